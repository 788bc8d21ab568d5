"""Test support for Maple and its plugins (the pytest plugin is core.testing.fixtures)."""
