"""Errors the core raises where a problem is found."""


class StartupError(RuntimeError):
    """Maple refuses to start: a configuration or plugin problem an operator must fix."""


class UserError(Exception):
    """A user's mistake: shown to them as a 4xx with this message, never a 500."""

    status_code = 400

    def __init__(self, message: str, *, fields: dict | None = None, audit: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        #: Keyword arguments for core.audit.services.record: a refusal that must be kept in
        #: the audit log even though the request's own work is rolled back.
        self.audit = audit


class NotAllowed(UserError):
    """The user lacks the permission or may not see the object."""

    status_code = 403


class Conflict(UserError):
    """The request clashes with the current state (a duplicate, a dependency)."""

    status_code = 409


class NotFound(UserError):
    """The object the request names does not exist, or the user may not know it does."""

    status_code = 404


class InvalidInput(UserError):
    """The request is well-formed but some of its fields are not valid (listed in ``fields``)."""

    status_code = 422
