"""Signing in and out: throttling, sessions, CSRF, cookies and headers."""

import re

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.auth.models import UserSession
from core.auth.throttle import DEVICE_COOKIE
from core.testing.fixtures import TEST_PASSWORD


def sign_in(client, username, password=TEST_PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def test_login_opens_a_fresh_server_side_session(client, make_user, db):
    user = make_user("collector", username="li")
    with client.session_transaction() as session:
        session["_user_id"] = "planted-by-an-attacker"
    response = sign_in(client, "li")
    assert response.status_code == 302
    with client.session_transaction() as session:
        session_id = session["_user_id"]
    assert session_id != "planted-by-an-attacker"
    stored = db.session.get(UserSession, session_id)
    assert stored is not None and stored.user_id == user.id
    assert client.get("/").status_code == 200


def test_wrong_password_is_refused_and_audited(client, make_user, db):
    make_user("collector", username="li")
    with client.session_transaction() as session:
        session["locale"] = "en"  # the page is in Chinese by default
    response = sign_in(client, "li", "not-the-password")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.get_data(as_text=True)
    entry = db.session.scalars(select(AuditEntry).filter_by(action="auth.login")).one()
    assert (entry.outcome, entry.username) == ("failure", "li")
    assert "not-the-password" not in str(entry.details)


def test_account_is_throttled_for_untrusted_clients(app, client, make_user):
    app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] = 3
    make_user("collector", username="li")
    for _ in range(3):
        assert sign_in(client, "li", "guess").status_code == 401
    # Even the right password is refused now from a client the account never used.
    assert sign_in(client, "li").status_code == 429


def test_throttling_cannot_lock_the_real_user_out(app, make_user):
    app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] = 3
    make_user("collector", username="li")
    users_browser, attacker = app.test_client(), app.test_client()
    assert sign_in(users_browser, "li").status_code == 302  # gets the device cookie
    assert users_browser.get_cookie(DEVICE_COOKIE) is not None
    users_browser.post("/logout")
    for _ in range(10):
        sign_in(attacker, "li", "guess")
    assert sign_in(attacker, "li").status_code == 429
    assert sign_in(users_browser, "li").status_code == 302


def test_a_trusted_device_has_its_own_limit(app, make_user):
    app.config["LOGIN_MAX_FAILURES_PER_DEVICE"] = 2
    make_user("collector", username="li")
    browser = app.test_client()
    sign_in(browser, "li")
    browser.post("/logout")
    for _ in range(2):
        assert sign_in(browser, "li", "typo").status_code == 401
    assert sign_in(browser, "li").status_code == 429


def test_one_ip_is_throttled_across_accounts(app, client, make_user):
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 4
    make_user("collector", username="li")
    for name in ("a", "b", "c", "d"):
        sign_in(client, name, "guess")
    assert sign_in(client, "li").status_code == 429


def test_logout_ends_the_session_on_the_server(app, client, make_user):
    make_user("collector", username="li")
    sign_in(client, "li")
    with client.session_transaction() as session:
        stolen = dict(session)
    client.post("/logout")
    replay = app.test_client()
    with replay.session_transaction() as session:
        session.update(stolen)
    assert replay.get("/").status_code == 302  # back to the login page


def test_deactivation_ends_the_users_sessions(client, login_as, make_user, app, db):
    collector = make_user("collector", username="li")
    collectors_browser = app.test_client()
    sign_in(collectors_browser, "li")
    assert collectors_browser.get("/").status_code == 200
    login_as("admin")
    response = client.post(
        f"/admin/users/{collector.id}",
        data={
            "display_name": "Li",
            "role": collector.role_id,
            "locale": "zh_CN",
            "team": 0,
            "client": 0,
        },
    )
    assert response.status_code == 302
    db.session.refresh(collector)
    assert collector.active is False
    assert collectors_browser.get("/").status_code == 302


def test_forms_reject_a_missing_csrf_token(app_config, make_user):
    from core import create_app

    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    browser = app.test_client()
    response = browser.post("/login", data={"username": "x", "password": "y"})
    assert response.status_code == 400
    page = browser.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = browser.post("/login", data={"username": "x", "password": "y", "csrf_token": token})
    assert response.status_code == 401  # the token is accepted; the password is not


def test_security_headers_are_sent(client):
    headers = client.get("/login").headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


def test_session_cookie_is_http_only_and_same_site(client, make_user):
    make_user("collector", username="li")
    response = sign_in(client, "li")
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("maple_session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie


def test_production_cookies_are_secure(app_config):
    from core import create_app

    app = create_app({**app_config, "ENV": "production", "SECRET_KEY": "k" * 48})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert "Strict-Transport-Security" in app.test_client().get("/login").headers


@pytest.mark.parametrize("key", ["", "maple-development-only-secret", "short"])
def test_production_refuses_to_start_without_a_real_secret_key(app_config, key):
    from core import create_app
    from core.errors import StartupError

    with pytest.raises(StartupError, match="MAPLE_SECRET_KEY"):
        create_app({**app_config, "ENV": "production", "SECRET_KEY": key})


def test_login_only_redirects_to_same_site_paths(client, make_user):
    make_user("collector", username="li")
    response = client.post(
        "/login?next=https://evil.example/", data={"username": "li", "password": TEST_PASSWORD}
    )
    assert response.headers["Location"] == "/"


def test_user_may_choose_english(client, login_as):
    login_as("collector")
    assert client.post("/language/en", data={"next": "/"}).status_code == 302
    assert 'lang="en"' in client.get("/").get_data(as_text=True)
