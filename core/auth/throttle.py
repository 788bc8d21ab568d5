"""Login throttling that slows guessing without letting an attacker lock a user out.

A browser that once signed in to an account carries a signed *device cookie* for it.
Failures are counted per key over a sliding window:

* from a trusted device: that device's own failures for the account;
* from anywhere else: the account's failures from untrusted clients, and the IP's.

An attacker who exhausts the untrusted allowance blocks only untrusted clients; the real
user, on a device they signed in from before, still gets in (OWASP's "device cookies").
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, func, select

from core.auth.models import LoginFailure
from core.extensions import db
from core.types import utcnow

DEVICE_COOKIE = "maple_device"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="maple-device")


def new_device_cookie(username: str) -> str:
    return _serializer().dumps({"u": username.lower(), "d": secrets.token_hex(16)})


def trusted_device(cookie: str | None, username: str) -> str | None:
    """The device id if ``cookie`` was issued for ``username``, else None."""
    if not cookie:
        return None
    try:
        data = _serializer().loads(cookie)
    except BadSignature:
        return None
    return data.get("d") if data.get("u") == username.lower() else None


def _failures(*conditions) -> int:
    since = utcnow() - timedelta(seconds=current_app.config["LOGIN_WINDOW_SECONDS"])
    query = select(func.count(LoginFailure.id)).where(LoginFailure.at >= since, *conditions)
    return db.session.scalar(query)


def is_throttled(username: str, ip: str, device: str | None) -> bool:
    config, username = current_app.config, username.lower()
    if device:
        return (
            _failures(LoginFailure.username == username, LoginFailure.device == device)
            >= config["LOGIN_MAX_FAILURES_PER_DEVICE"]
        )
    untrusted = LoginFailure.device.is_(None)
    return (
        _failures(LoginFailure.username == username, untrusted)
        >= config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
        or _failures(LoginFailure.ip == ip, untrusted) >= config["LOGIN_MAX_FAILURES_PER_IP"]
    )


def record_failure(username: str, ip: str, device: str | None) -> None:
    db.session.add(LoginFailure(username=username.lower(), ip=ip, device=device))


def clear_failures(username: str, ip: str, device: str | None) -> None:
    """A good login wipes the failures of the key it came through."""
    condition = LoginFailure.device == device if device else LoginFailure.ip == ip
    db.session.execute(
        delete(LoginFailure).where(LoginFailure.username == username.lower(), condition)
    )
