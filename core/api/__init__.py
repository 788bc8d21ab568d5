"""The JSON API under /api/v1: token authentication, marshmallow schemas, OpenAPI."""

# marshmallow's validation messages in the user's language, before any schema is defined.
from core.api import messages as _messages  # noqa: F401
