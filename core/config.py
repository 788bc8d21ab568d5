"""Maple's configuration defaults and how they are overridden.

Order, last wins: these defaults, ``instance/maple.cfg`` (a Python file of UPPERCASE names),
``MAPLE_*`` environment variables (``MAPLE_DATABASE_URL`` sets ``DATABASE_URL``), then the
``config`` mapping handed to :func:`core.create_app` (tests use it).
"""

from __future__ import annotations

import os
from pathlib import Path

#: The value the development secret key carries; a production start refuses it.
DEVELOPMENT_SECRET_KEY = "maple-development-only-secret"

DEFAULTS: dict = {
    #: "development" or "production". Production demands a real SECRET_KEY and secure cookies.
    "ENV": "development",
    "SECRET_KEY": DEVELOPMENT_SECRET_KEY,
    #: SQLAlchemy URL; empty means a SQLite file ``maple.db`` in the instance folder.
    "DATABASE_URL": "",
    #: Allow-list of plugin names (empty: every installed plugin) and a block-list.
    "PLUGINS": [],
    "DISABLED_PLUGINS": [],
    #: Extra plugin objects or import paths registered beside the installed ones (tests, dev).
    "PLUGIN_MODULES": [],
    #: Redis for RQ workers; empty means jobs run on an in-process worker.
    "REDIS_URL": "",
    #: The agency's own name and phone, as its letters and messages sign them; modules copy
    #: them into a contract's settings when switched on (a contract may override them).
    "AGENCY_NAME": "",
    "AGENCY_PHONE": "",
    "BABEL_DEFAULT_LOCALE": "zh_CN",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "LANGUAGES": {"zh_CN": "中文", "en": "English"},
    #: Login throttling (see core.auth.throttle): failures allowed per window.
    "LOGIN_WINDOW_SECONDS": 15 * 60,
    "LOGIN_MAX_FAILURES_PER_DEVICE": 5,
    "LOGIN_MAX_FAILURES_PER_ACCOUNT": 10,
    "LOGIN_MAX_FAILURES_PER_IP": 30,
    #: Sessions end after this long without a request.
    "SESSION_IDLE_MINUTES": 8 * 60,
    "SESSION_COOKIE_NAME": "maple_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    "PAGE_SIZE": 50,
    #: A case export of more rows than this runs as a job; smaller ones download at once.
    "EXPORT_INLINE_MAX_ROWS": 5000,
    #: Pausing, closing or resuming more cases than this at once runs as a job.
    "OPERATION_INLINE_MAX_CASES": 5000,
    #: How many reverse proxies in front of Maple set X-Forwarded-For/-Proto: their values
    #: are then trusted for the client's address (login throttling, audit) and the scheme.
    "TRUSTED_PROXIES": 0,
    #: Key of the audit log's hash chain; empty means SECRET_KEY.
    "AUDIT_KEY": "",
    #: Run pending migrations when the app starts. Unset: only for the embedded SQLite
    #: database (no DATABASE_URL given); a PostgreSQL deployment runs ``maple db upgrade``.
    "AUTO_MIGRATE": None,
    #: Where uploaded files are kept, under random names; empty means ``<instance>/uploads``.
    "UPLOAD_FOLDER": "",
    #: Import caps, checked before and while a file is parsed (see core.imports.reading).
    "IMPORT_MAX_ROWS": 200_000,
    "IMPORT_MAX_COLUMNS": 200,
    "IMPORT_MAX_CELL_LENGTH": 2000,
    #: A workbook's declared uncompressed size and its number of zip entries (zip bombs).
    "IMPORT_MAX_UNCOMPRESSED": 512 * 1024 * 1024,
    "IMPORT_MAX_ZIP_ENTRIES": 10_000,
    #: How long an import waits for another import into the same batch to finish.
    "IMPORT_LOCK_WAIT_SECONDS": 600,
}

LIST_KEYS = ("PLUGINS", "DISABLED_PLUGINS", "PLUGIN_MODULES")


def load(app, overrides: dict | None) -> None:
    """Fill ``app.config`` in the documented order and derive what follows from it."""
    app.config.update(DEFAULTS)
    app.config.from_pyfile("maple.cfg", silent=True)
    app.config.from_prefixed_env("MAPLE")
    if overrides:
        app.config.update(overrides)
    for key in LIST_KEYS:
        value = app.config[key]
        if isinstance(value, str):
            app.config[key] = [part.strip() for part in value.split(",") if part.strip()]
    embedded = not app.config["DATABASE_URL"]
    if embedded:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "maple.db")
    if not app.config["UPLOAD_FOLDER"]:
        app.config["UPLOAD_FOLDER"] = os.path.join(app.instance_path, "uploads")
    if app.config["AUTO_MIGRATE"] is None:
        app.config["AUTO_MIGRATE"] = embedded
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(app.config["DATABASE_URL"])
    if app.config["ENV"] == "production":
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True


def normalise_database_url(url: str) -> str:
    """Let users write ``postgresql://`` and still get the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def check_production_ready(app) -> None:
    """Refuse a production start whose secret key is missing, the development one, or short."""
    from core.errors import StartupError

    if app.config["ENV"] != "production":
        return
    key = app.config.get("SECRET_KEY") or ""
    if key == DEVELOPMENT_SECRET_KEY or len(key) < 32:
        raise StartupError(
            "MAPLE_ENV is 'production' but MAPLE_SECRET_KEY is missing, the development key, "
            "or shorter than 32 characters. Generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'` and set "
            "MAPLE_SECRET_KEY before starting Maple."
        )
