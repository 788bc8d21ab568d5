"""portfolio report."""
