"""The web shell: layout, navigation, home page and the admin area."""
