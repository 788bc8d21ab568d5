"""Permissions and how views declare them.

Every view must say what it needs, with exactly one of :func:`require`, :func:`login_only`
or :func:`public`. The guard in :mod:`core.auth.guard` refuses any endpoint that declares
nothing, so a forgotten decorator denies access instead of granting it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import wraps

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Permission:
    #: ``<plugin>.<what>``; the core's start with ``core.``.
    name: str
    title: str
    #: Built-in roles that receive it when it is first seen (admins hold everything).
    default_roles: tuple[str, ...] = field(default=())

    @property
    def namespace(self) -> str:
        return self.name.split(".", 1)[0]


#: Markers stored on view functions; the guard reads them.
PUBLIC = "public"
LOGGED_IN = "logged-in"


def _declare(view, need):
    view.maple_permission = need
    return view


def require(permission: str, *alternatives: str):
    """The view needs ``permission`` (or any of the ``alternatives``); the guard answers 403
    (and audits) without it.

    Alternatives serve a page that several permissions open, each to its own objects (a
    collector's own cases, a team leader's team's): the view still checks every object.
    """
    need = (permission, *alternatives) if alternatives else permission

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            return view(*args, **kwargs)

        return _declare(wrapper, need)

    return decorator


def needed(need) -> tuple[str, ...]:
    """The permissions a declaration names, any one of which opens the view."""
    return (need,) if isinstance(need, str) else tuple(need)


def holds(user, need) -> bool:
    """Whether ``user`` holds one of the permissions ``need`` names."""
    return any(user.can(permission) for permission in needed(need))


def login_only(view):
    """Any signed-in user may use the view (their own profile, the home page)."""
    return _declare(view, LOGGED_IN)


def public(view):
    """Anyone may use the view, signed in or not (the login page, the API description)."""
    return _declare(view, PUBLIC)


BUILTIN_ROLES: list[tuple[str, str]] = [
    ("admin", _l("Administrator")),
    ("manager", _l("Manager")),
    ("team_leader", _l("Team leader")),
    ("collector", _l("Collector")),
    ("field_visitor", _l("Field visitor")),
    ("assist_staff", _l("Assist staff")),
    ("legal", _l("Legal")),
    ("qa_inspector", _l("QA inspector")),
    ("client_viewer", _l("Client viewer")),
]

STAFF_ROLES = tuple(name for name, _ in BUILTIN_ROLES if name not in ("admin", "client_viewer"))

CORE_PERMISSIONS = [
    Permission("core.users.manage", _l("Manage users and teams")),
    Permission("core.roles.manage", _l("Edit roles and their permissions")),
    Permission("core.clients.manage", _l("Manage clients"), ("manager",)),
    Permission("core.contracts.manage", _l("Manage contracts"), ("manager",)),
    Permission("core.modules.manage", _l("Switch modules on contracts")),
    Permission("core.contracts.view_all", _l("See every contract"), ("manager",)),
    Permission("core.audit.view", _l("Read the audit log")),
    Permission(
        "core.cases.view", _l("See cases of one's contracts"), (*STAFF_ROLES, "client_viewer")
    ),
    Permission(
        "core.cases.view_contract",
        _l("See every case of one's contracts, whoever holds it"),
        ("manager", "assist_staff", "legal", "qa_inspector", "client_viewer"),
    ),
    Permission("core.cases.view_team", _l("See the cases one's team holds"), ("team_leader",)),
    Permission("core.pii.unmask", _l("See unmasked ID, card and phone numbers")),
    Permission("core.settings.manage", _l("Edit category settings (areas, case categories)")),
    Permission("core.batches.manage", _l("Create, edit and delete batches"), ("manager",)),
    Permission("core.imports.run", _l("Import files into batches"), ("manager",)),
    Permission("core.cases.operate", _l("Pause, close and resume cases"), ("manager",)),
    Permission("core.cases.export", _l("Export case lists"), ("manager",)),
    Permission("core.api.use", _l("Use the JSON API with personal tokens"), ("manager",)),
]
