"""Pytest fixtures for testing Maple and plugins against a real database.

Installed as a pytest plugin (entry point ``pytest11``), so a partner's test suite gets
them with no set-up: ``app``, ``db``, ``client``, ``make_user``, ``login_as``,
``contract``. The database is ``MAPLE_TEST_DATABASE_URL`` (PostgreSQL in CI) or a
temporary SQLite file; it is migrated once per run and emptied after every test.
"""

from __future__ import annotations

import itertools
import os
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, inspect, text

from core.config import normalise_database_url

TEST_PASSWORD = "test-password-123"


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    The ``app`` fixture keeps an app context pushed for the test's own database work; Flask
    would reuse it for requests, sharing ``g`` (and the signed-in user) between them.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


_serial = itertools.count(1)


def _empty_database(url: str) -> None:
    engine = create_engine(normalise_database_url(url))
    if engine.dialect.name != "sqlite" and "test" not in (engine.url.database or ""):
        raise pytest.UsageError(
            f"MAPLE_TEST_DATABASE_URL names database {engine.url.database!r}; the tests empty "
            "it, so its name must contain 'test'"
        )
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        else:
            connection.execute(text("PRAGMA foreign_keys=OFF"))
            for table in inspect(connection).get_table_names():
                connection.execute(text(f'DROP TABLE "{table}"'))
    engine.dispose()


@pytest.fixture(scope="session")
def maple_test_config(tmp_path_factory) -> dict:
    """The config every test app starts from; override the fixture to change it."""
    url = os.environ.get("MAPLE_TEST_DATABASE_URL") or (
        "sqlite:///" + str(tmp_path_factory.mktemp("maple") / "test.db")
    )
    return {
        "ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-000",
        "DATABASE_URL": url,
        "WTF_CSRF_ENABLED": False,
    }


@pytest.fixture(scope="session")
def _migrated_database(maple_test_config):
    """Empty the test database and migrate it once for the whole run."""
    from core import create_app
    from core.migrate import upgrade_all

    _empty_database(maple_test_config["DATABASE_URL"])
    app = create_app(maple_test_config)
    with app.app_context():
        upgrade_all()
        from core.extensions import db

        db.engine.dispose()
    return maple_test_config


def _wipe(db) -> None:
    """Delete every row but the migration versions, then restore roles and grants."""
    connection = db.session.connection()
    tables = [
        t for t in inspect(connection).get_table_names() if not t.startswith("alembic_version")
    ]
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
        )
    else:
        connection.execute(text("PRAGMA foreign_keys=OFF"))
        for table in tables:
            connection.execute(text(f'DELETE FROM "{table}"'))
        connection.execute(text("PRAGMA foreign_keys=ON"))
    db.session.commit()


@pytest.fixture
def app_config(_migrated_database) -> dict:
    """Per-test config overrides: ``app_config["PLUGIN_MODULES"] = [...]`` before ``app``."""
    return dict(_migrated_database)


@pytest.fixture
def app(app_config):
    """A fresh Maple app on the migrated test database, with an app context pushed."""
    from core import create_app
    from core.auth.services import ensure_builtin_roles_and_grants
    from core.extensions import db
    from core.plugins import registry

    app = create_app(app_config)
    app.test_client_class = IsolatedClient
    with app.app_context():
        ensure_builtin_roles_and_grants(registry().permissions)
        db.session.commit()
        yield app
        db.session.rollback()
        _wipe(db)
        db.engine.dispose()


@pytest.fixture
def db(app):
    from core.extensions import db

    return db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(db):
    """``make_user("collector", contracts=[c])``: a user with a built-in role, committed."""
    from sqlalchemy import select

    from core.auth.models import Role
    from core.auth.services import create_user

    def make(
        role="admin", *, username=None, contracts=(), client=None, password=TEST_PASSWORD, **fields
    ):
        role_obj = db.session.scalar(select(Role).filter_by(name=role))
        user = create_user(
            username=username or f"{role}{next(_serial)}",
            display_name=fields.pop("name", role),
            password=password,
            role=role_obj,
            contracts=contracts,
            client=client,
            **fields,
        )
        db.session.commit()
        return user

    return make


@pytest.fixture
def login_as(client, make_user, db):
    """``login_as("manager", contracts=[c])``: make a user and sign the test client in."""
    from core.auth.services import start_session

    def login(role="admin", **kwargs):
        user = make_user(role, **kwargs)
        session = start_session(user, "127.0.0.1")
        db.session.commit()
        with client.session_transaction() as flask_session:
            flask_session["_user_id"] = session.id
            flask_session["_fresh"] = True
        return user

    return login


@pytest.fixture
def english(app):
    """The test's own calls in English: services raise their messages translated."""
    from flask_babel import force_locale

    with force_locale("en"):
        yield


@pytest.fixture
def english_by_default(app_config):
    """English as the app's default language: pages and imports nobody chose a language for."""
    app_config["BABEL_DEFAULT_LOCALE"] = "en"


@pytest.fixture
def contract(db):
    """``contract(modules=["notes"])``: a client and a contract with those modules on."""
    from core.clients.services import save_client, save_contract
    from core.modules import enable_module

    def make(modules=(), *, number=None, client=None):
        n = next(_serial)
        client = client or save_client(None, name=f"Client {n}", code=f"C{n}", actor=None)
        contract = save_contract(
            None,
            number=number or f"K-{n}",
            client=client,
            start_date=date(2026, 1, 1),
            actor=None,
        )
        for module in modules:
            enable_module(contract, module, None)
        db.session.commit()
        return contract

    return make


@pytest.fixture
def live_server(app):
    """The app served on a free loopback port in a thread; yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


CHROMIUM = "/usr/bin/chromium"


def sign_in(page, base_url: str, username: str, password: str = TEST_PASSWORD) -> None:
    """Sign ``username`` in through the login page of the live server at ``base_url``."""
    page.goto(f"{base_url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button.primary")
    page.wait_for_url(f"{base_url}/")


@pytest.fixture
def browser_page():
    """A Playwright page in Debian's Chromium (as root, so without the sandbox).

    Skipped where Chromium or Playwright is missing, unless ``MAPLE_REQUIRE_BROWSER`` is
    set (CI sets it), where that is a failure.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not os.path.exists(CHROMIUM):
        message = "browser tests need Playwright and /usr/bin/chromium (apt-get install chromium)"
        if os.environ.get("MAPLE_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.set_default_timeout(15000)
        yield page
        browser.close()
