"""Request handling shared by every page: locale, guard, headers, errors, SQLite tuning."""

from __future__ import annotations

from flask import current_app, g, has_request_context, jsonify, render_template, request, session
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from werkzeug.exceptions import HTTPException

from core.auth.guard import is_api
from core.errors import UserError
from core.extensions import csrf, db

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    chosen = session.get("locale")
    return chosen if chosen in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def register_core_blueprints(app) -> None:
    # These add their endpoints to ``api``: batches, cases and exports; imports and jobs.
    import core.cases.api
    import core.imports.api  # noqa: F401
    from core.api.views import api
    from core.auth.views import auth
    from core.batches.views import batches
    from core.cases.views import cases
    from core.exports.views import exports
    from core.imports.views import imports
    from core.web.admin import admin
    from core.web.views import web

    csrf.exempt(api)  # token-authenticated; the API never reads the session cookie
    for blueprint in (web, auth, admin, batches, cases, exports, imports, api):
        app.register_blueprint(blueprint)


def install_request_handling(app) -> None:
    from core.auth.guard import check_request
    from core.web import filters
    from core.web.nav import nav_for

    app.before_request(check_request)
    filters.register(app)

    @app.after_request
    def security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config["ENV"] == "production":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if current_user and current_user.is_authenticated:
            response.headers.setdefault("Cache-Control", "no-store")  # pages hold personal data
        return response

    @app.context_processor
    def shell():
        def navigation():
            if "maple_nav" not in g:
                g.maple_nav = nav_for(current_user) if current_user.is_authenticated else []
            return g.maple_nav

        return {
            "navigation": navigation,
            "languages": app.config["LANGUAGES"],
            "get_locale": get_locale,
        }

    @app.errorhandler(UserError)
    def user_error(error: UserError):
        db.session.rollback()
        keep_refusal_on_record(error)
        return error_response(error.status_code, error.message, error.fields)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return error_response(
            400, _("The form expired or was not sent from Maple. Reload the page and try again.")
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return error_response(error.code or 500, _http_message(error))

    @app.teardown_request
    def roll_back_unfinished(_exc):
        # One unit of work per request: what the view did not commit is undone.
        db.session.rollback()


def keep_refusal_on_record(error: UserError) -> None:
    """After the rollback, write the refusal's audit entry in a transaction of its own."""
    if error.audit:
        from core.audit.services import record

        record(**error.audit)
        db.session.commit()


def _http_message(error: HTTPException) -> str:
    messages = {
        403: _("You do not have permission to do this."),
        404: _("There is nothing here."),
        405: _("This address does not accept that method."),
        413: _("The upload is larger than Maple accepts."),
    }
    return messages.get(error.code, error.description or error.name)


def wants_json() -> bool:
    """API calls and any view declared with ``@endpoint`` (plugins' too) get JSON errors."""
    if is_api() or request.path.startswith("/api/"):
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return hasattr(view, "maple_endpoint")


def error_response(status: int, message: str, fields: dict | None = None):
    if wants_json():
        body = {"error": {"status": status, "message": message}}
        if fields:
            body["error"]["fields"] = fields
        response = jsonify(body)
    else:
        response = current_app.make_response(
            render_template("core/error.html", status=status, message=message, fields=fields or {})
        )
    response.status_code = status
    return response


def tune_sqlite(engine) -> None:
    """WAL, enforced foreign keys and a busy timeout on every SQLite connection."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    engine.dispose()  # connections opened before the listener get the pragmas on reopen
