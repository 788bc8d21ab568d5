"""recovery report."""
