"""Report pages: the catalogue, one report with its filters, charts and tables, its Excel file."""
