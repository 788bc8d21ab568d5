"""Maple's built-in modules, each a plugin declared in the maple.plugins entry-point group."""
