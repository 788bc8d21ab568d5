"""activity report."""
