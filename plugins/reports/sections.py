"""sections report."""
