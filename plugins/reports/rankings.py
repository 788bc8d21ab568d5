"""rankings report."""
