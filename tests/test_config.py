"""Where configuration comes from, and in which order it wins."""

from core import create_app


def test_environment_overrides_the_instance_file_and_defaults(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "maple.cfg").write_text("PAGE_SIZE = 20\nLOGIN_WINDOW_SECONDS = 60\n")
    monkeypatch.setenv("MAPLE_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("MAPLE_LOGIN_WINDOW_SECONDS", "120")
    monkeypatch.setenv("MAPLE_DISABLED_PLUGINS", "notes, other")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.config["PAGE_SIZE"] == 20  # instance file over the default
    assert app.config["LOGIN_WINDOW_SECONDS"] == 120  # environment over the instance file
    assert app.config["DISABLED_PLUGINS"] == ["notes", "other"]
    assert "notes" not in app.extensions["maple_plugins"].plugins


def test_embedded_default_is_a_migrated_sqlite_file_in_wal_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("MAPLE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("MAPLE_DATABASE_URL", raising=False)
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/maple.db")
    assert (tmp_path / "instance" / "maple.db").exists()
    with app.app_context():
        from sqlalchemy import text

        from core.extensions import db

        with db.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            tables = connection.execute(text("SELECT name FROM sqlite_master")).scalars().all()
        assert "users" in tables and "audit_log" in tables  # migrated on first start
        db.engine.dispose()


def test_postgres_urls_get_the_psycopg_driver():
    from core.config import normalise_database_url

    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_client_address_comes_from_a_trusted_proxy_only(app_config, db):
    from sqlalchemy import select

    from core.audit.models import AuditEntry

    direct = create_app(app_config).test_client()
    direct.post(
        "/login",
        data={"username": "x", "password": "y"},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    proxied = create_app({**app_config, "TRUSTED_PROXIES": 1}).test_client()
    proxied.post(
        "/login",
        data={"username": "x", "password": "y"},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    ips = db.session.scalars(select(AuditEntry.ip).order_by(AuditEntry.id)).all()
    assert ips == ["127.0.0.1", "203.0.113.9"]
