"""Cases (案件): the debtor's account as placed by a client, and its detail page."""
