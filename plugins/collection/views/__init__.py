"""The collection module's pages, one blueprint at /m/collection; a file per area."""

from flask import Blueprint

collection = Blueprint(
    "collection", __name__, url_prefix="/m/collection", template_folder="../templates"
)

# Each area adds its routes to ``collection``.
from plugins.collection.views import allocation, complaints, messages, settings, work  # noqa: F401
