"""The rules for users, sessions, roles and tokens. Views and the API only call these."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from core.audit.services import record, record_saved
from core.auth import throttle
from core.auth.models import ApiToken, KnownPermission, Role, RolePermission, User, UserSession
from core.auth.permissions import BUILTIN_ROLES
from core.errors import Conflict, UserError
from core.extensions import db
from core.types import utcnow

#: The shortest password Maple accepts (NIST 800-63B asks for at least 8).
MIN_PASSWORD_LENGTH = 10


class LoginRefused(UserError):
    status_code = 401


class LoginThrottled(UserError):
    status_code = 429


# -- signing in and out ------------------------------------------------------------------------


def authenticate(username: str, password: str, ip: str, device_cookie: str | None) -> User:
    """Check a login. Every attempt is audited; failures count towards throttling."""
    username = username.strip()
    device = throttle.trusted_device(device_cookie, username)
    if throttle.is_throttled(username, ip, device):
        record("auth.login", outcome="denied", username=username, details={"reason": "throttled"})
        raise LoginThrottled(_("Too many failed attempts. Wait a few minutes and try again."))
    user = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None or not user.check_password(password) or not user.active:
        throttle.record_failure(username, ip, device)
        reason = "inactive" if user is not None and user.active is False else "bad credentials"
        record("auth.login", outcome="failure", username=username, details={"reason": reason})
        raise LoginRefused(_("Wrong user name or password."))
    throttle.clear_failures(username, ip, device)
    return user


def start_session(user: User, ip: str) -> UserSession:
    """Open a server-side session with a fresh random id (no session fixation)."""
    session = UserSession(id=secrets.token_urlsafe(32), user=user, ip=ip)
    db.session.add(session)
    user.last_login_at = utcnow()
    record("auth.login", user=user)
    return session


def load_session(session_id: str) -> User | None:
    """The user behind a live session id, or None if it ended, idled out or was deactivated."""
    session = db.session.get(UserSession, session_id)
    if session is None or session.ended_at is not None or not session.user.active:
        return None
    now = utcnow()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    if now - session.last_seen_at > idle:
        session.ended_at = now
        db.session.commit()
        return None
    if now - session.last_seen_at > timedelta(minutes=1):
        session.last_seen_at = now  # written at most once a minute, not on every request
        db.session.commit()
    session.user.session_id = session.id
    return session.user


def end_session(session_id: str) -> None:
    session = db.session.get(UserSession, session_id)
    if session is not None and session.ended_at is None:
        session.ended_at = utcnow()
        record("auth.logout", user=session.user)


def end_all_sessions(user: User) -> None:
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


# -- users ----------------------------------------------------------------------------------------


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        message = _("The password must be at least %(n)d characters long.", n=MIN_PASSWORD_LENGTH)
        raise UserError(message, fields={"password": [message]})


def create_user(
    *,
    username,
    display_name,
    password,
    role,
    team=None,
    client=None,
    contracts=(),
    locale="zh_CN",
    actor=None,
) -> User:
    username = username.strip()
    if db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise Conflict(
            _("The user name %(name)s is taken.", name=username),
            fields={"username": [_("Already taken.")]},
        )
    check_password_strength(password)
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        role=role,
        team=team,
        locale=locale,
    )
    user.set_password(password)
    _bind(user, role, client, contracts)
    return record_saved(user, "user.created", user=actor, details={"role": role.name})


def update_user(
    user: User,
    *,
    actor,
    display_name=None,
    role=None,
    team=...,
    client=...,
    contracts=None,
    locale=None,
    active=None,
    password=None,
) -> User:
    """Change a user; a new role or a deactivation is audited and ends their sessions."""
    if display_name is not None:
        user.display_name = display_name.strip() or user.username
    if locale is not None:
        user.locale = locale
    if team is not ...:
        user.team = team
    new_role = role if role is not None else user.role
    if role is not None and role.id != user.role_id:
        record(
            "user.role_changed",
            obj=user,
            user=actor,
            details={"from": user.role.name, "to": role.name},
        )
        user.role = role
    _bind(
        user,
        new_role,
        user.client if client is ... else client,
        user.contracts if contracts is None else contracts,
    )
    if active is not None and active != user.active:
        if not active and actor is not None and actor.id == user.id:
            raise UserError(_("You cannot deactivate yourself."))
        user.active = active
        record("user.activated" if active else "user.deactivated", obj=user, user=actor)
        if not active:
            end_all_sessions(user)
    if password:
        check_password_strength(password)
        user.set_password(password)
        record("user.password_changed", obj=user, user=actor)
        end_all_sessions(user)
    return user


def _bind(user: User, role: Role, client, contracts) -> None:
    """A client viewer is bound to exactly one client and no staff contracts."""
    if role.name == "client_viewer":
        if client is None:
            raise UserError(
                _("A client viewer must be bound to a client."),
                fields={"client_id": [_("Required for a client viewer.")]},
            )
        user.client, user.contracts = client, []
    else:
        user.client, user.contracts = None, list(contracts)


# -- roles and permissions ----------------------------------------------------------------------


def ensure_builtin_roles_and_grants(permissions: dict) -> None:
    """Create missing built-in roles; grant each newly seen permission to its default roles.

    Run on every ``maple db upgrade`` (and demo start), so a freshly installed plugin's
    permissions reach their default roles once, and an admin's later edits are kept.
    """
    roles = {role.name: role for role in db.session.scalars(select(Role))}
    for name, title in BUILTIN_ROLES:
        if name not in roles:
            with force_locale("en"):
                english = str(title)
            roles[name] = Role(
                name=name, title=english, builtin=True, all_permissions=name == "admin"
            )
            db.session.add(roles[name])
    known = set(db.session.scalars(select(KnownPermission.name)))
    for permission in permissions.values():
        if permission.name in known:
            continue
        db.session.add(KnownPermission(name=permission.name))
        for role_name in permission.default_roles:
            role = roles[role_name]
            if permission.name not in role.permissions:
                role.grants.append(RolePermission(permission=permission.name))
    db.session.flush()


def set_role_permissions(role: Role, names: set[str], actor) -> None:
    if role.all_permissions:
        raise UserError(_("The administrator role holds every permission and cannot be narrowed."))
    before = role.permissions
    if names == before:
        return
    role.grants = [grant for grant in role.grants if grant.permission in names]
    role.grants.extend(RolePermission(permission=name) for name in sorted(names - before))
    record(
        "role.permissions_changed",
        obj=role,
        user=actor,
        details={"granted": sorted(names - before), "revoked": sorted(before - names)},
    )


# -- API tokens -----------------------------------------------------------------------------------

TOKEN_PREFIX = "mpl_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token; the plain value is returned once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user, name=name.strip() or "API", token_hash=_digest(plain), prefix=plain[:10]
    )
    return record_saved(token, "api_token.issued", user=user), plain


def revoke_token(token: ApiToken, actor) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record("api_token.revoked", obj=token, user=actor)


def user_for_token(plain: str) -> User | None:
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(plain)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return token.user


def save_team(team, *, name: str, actor):
    """Create (``team=None``) or rename a team; names are unique."""
    from core.auth.models import Team

    name = name.strip()
    clash = db.session.scalar(select(Team.id).where(func.lower(Team.name) == name.lower()))
    if clash is not None and (team is None or clash != team.id):
        raise Conflict(
            _("A team named %(n)s exists.", n=name), fields={"name": [_("Already in use.")]}
        )
    created = team is None
    team = team or Team()
    team.name = name
    action = "team.created" if created else "team.renamed"
    return record_saved(team, action, user=actor, details={"name": name})


def create_role(*, name: str, title: str, actor) -> Role:
    """A custom role starts with no permissions; the admin grants them on its page."""
    name = name.strip().lower()
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise UserError(
            _("Use lower-case letters, digits and underscores for the machine name."),
            fields={"name": [_("Invalid.")]},
        )
    if db.session.scalar(select(Role.id).filter_by(name=name)) is not None:
        raise Conflict(
            _("A role named %(n)s exists.", n=name), fields={"name": [_("Already in use.")]}
        )
    role = Role(name=name, title=title.strip() or name)
    return record_saved(role, "role.created", user=actor)
