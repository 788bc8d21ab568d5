"""The core's own hook implementations: it registers permissions and menus like any plugin."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.auth.permissions import CORE_PERMISSIONS
from core.hookspecs import hookimpl
from core.web.nav import NavItem


@hookimpl
def register_permissions():
    return CORE_PERMISSIONS


@hookimpl
def check_case_work(case):
    """Paused, closed, returned and settled cases cannot be worked, whoever asks."""
    from core.cases.services import FROZEN, status_title

    if case.status in FROZEN:
        return _("the case is %(status)s and cannot be worked", status=status_title(case.status))
    return None


@hookimpl
def register_nav_items():
    return [
        NavItem(_l("Home"), "web.home", order=0),
        NavItem(_l("Case import"), "batches.index", "core.batches.manage", order=100),
        NavItem(_l("Batch management"), "cases.index", "core.cases.view", order=110),
        NavItem(_l("Category settings"), "batches.categories", "core.settings.manage", order=950),
        NavItem(_l("Contracts"), "admin.contracts", "core.contracts.manage", order=900),
        NavItem(_l("Clients"), "admin.clients", "core.clients.manage", order=910),
        NavItem(_l("Users"), "admin.users", "core.users.manage", order=920),
        NavItem(_l("Teams"), "admin.teams", "core.users.manage", order=925),
        NavItem(_l("Roles"), "admin.roles", "core.roles.manage", order=930),
        NavItem(_l("Audit log"), "admin.audit", "core.audit.view", order=940),
    ]


@hookimpl
def rebuild_day_totals():
    """The case file's derived figures: the timeline's per-day totals, each case's first
    contact and the holdings per day."""
    from core.cases.holdings import rebuild_holdings
    from core.cases.services import rebuild_activity_day_totals, rebuild_first_contacts

    rebuild_activity_day_totals()
    rebuild_first_contacts()
    rebuild_holdings()
