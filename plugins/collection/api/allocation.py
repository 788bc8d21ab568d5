"""(being written)"""

from plugins.collection.api import collection_api  # noqa: F401
