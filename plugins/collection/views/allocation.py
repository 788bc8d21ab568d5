"""(being written)"""

from plugins.collection.views import collection  # noqa: F401
