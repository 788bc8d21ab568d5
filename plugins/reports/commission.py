"""commission report."""
