"""Deny by default: every request is checked against its view's declared permission."""

from __future__ import annotations

from flask import abort, current_app, g, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import AnonymousUserMixin, current_user

from core.audit.services import record
from core.auth.permissions import LOGGED_IN, PUBLIC, holds, needed
from core.extensions import db, login_manager

API_BLUEPRINT = "api"


class AnonymousUser(AnonymousUserMixin):
    def can(self, permission: str) -> bool:
        return False


login_manager.anonymous_user = AnonymousUser


@login_manager.user_loader
def _load_user(session_id: str):
    from core.auth.services import load_session

    return load_session(session_id)


def declared_permission(endpoint: str):
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "maple_permission", None)


def is_static(endpoint: str) -> bool:
    return endpoint == "static" or endpoint.endswith(".static")


def is_api_blueprint(name: str | None) -> bool:
    """The core's ``/api/v1`` and each plugin's ``<plugin>_api`` blueprint: bearer tokens only."""
    return name == API_BLUEPRINT or (name or "").endswith(f"_{API_BLUEPRINT}")


def is_api() -> bool:
    return is_api_blueprint(request.blueprint)


def check_request():
    """``before_request``: authenticate API calls by token, then apply the view's rule."""
    endpoint = request.endpoint
    if endpoint is None or is_static(endpoint):
        return None
    if is_api():
        _authenticate_api_token()
    need = declared_permission(endpoint)
    if need == PUBLIC:
        return None
    if not current_user.is_authenticated:
        if is_api():
            return _json_error(
                401, _("Authentication required: send an API token as 'Authorization: Bearer …'.")
            )
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if need == LOGGED_IN:
        return None
    if need is None or not holds(current_user, need):
        deny(" | ".join(needed(need)) if need else f"(none declared for {endpoint})")
    return None


def deny(permission: str):
    """Refuse with 403 and keep a record of the refusal, even though the request fails."""
    record(
        "permission.denied",
        outcome="denied",
        details={"permission": permission, "endpoint": request.endpoint, "method": request.method},
    )
    db.session.commit()
    abort(403)


def _authenticate_api_token():
    """The API accepts only bearer tokens, never the browser's cookie (so no CSRF)."""
    from core.auth.services import user_for_token

    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    user = user_for_token(token.strip()) if scheme.lower() == "bearer" and token else None
    db.session.commit()  # keep the token's last-used time, whatever the view does next
    g._login_user = user or AnonymousUser()
    if user is not None and not user.can("core.api.use"):
        g._login_user = AnonymousUser()
        record(
            "permission.denied",
            outcome="denied",
            user=user,
            details={"permission": "core.api.use", "endpoint": request.endpoint},
        )
        db.session.commit()
        abort(403)


def _json_error(status: int, message: str):
    response = jsonify({"error": {"status": status, "message": message}})
    response.status_code = status
    return response
