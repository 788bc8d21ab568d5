"""The collection module's JSON API at /m/collection/api (bearer tokens, like /api/v1)."""

from flask import Blueprint

collection_api = Blueprint("collection_api", __name__, url_prefix="/m/collection/api")

# Each area adds its endpoints to ``collection_api``.
from plugins.collection.api import allocation, complaints, messages, work  # noqa: F401
