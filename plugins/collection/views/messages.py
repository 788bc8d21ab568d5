"""(being written)"""

from plugins.collection.views import collection  # noqa: F401


def case_panel(case, user):
    """This area's panel on the case page, or ``None`` (being written)."""
    return None
