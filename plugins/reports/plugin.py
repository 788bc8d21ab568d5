"""The reports module's hook implementations: what it adds to Maple, all named ``reports``."""

from flask_babel import lazy_gettext as _l

from core import hookimpl
from core.auth.permissions import Permission
from core.modules import ModuleInfo
from plugins.reports import models

MODULE = ModuleInfo(
    "reports",
    _l("Reports"),
    description=_l(
        "Recovery, portfolio and roll rates, activity, balanced-scorecard rankings and "
        "commission statements, with charts and Excel export."
    ),
)


@hookimpl
def register_blueprints():
    from plugins.reports.api import reports_api
    from plugins.reports.views import reports

    return [reports, reports_api]


@hookimpl
def register_models():
    return [
        models.CommissionTier,
        models.CommissionClosing,
        models.ClosedCommissionLine,
        models.BucketSnapshot,
    ]


@hookimpl
def register_permissions():
    return [
        Permission("reports.view", _l("See reports: one's own figures, one's team's, or those of one's contracts"), ("manager", "team_leader", "collector", "qa_inspector", "client_viewer")),
        Permission("reports.export", _l("Export reports to Excel"), ("manager", "team_leader", "client_viewer")),
        Permission("reports.commission", _l("See commission statements"), ("manager", "client_viewer")),
        Permission("reports.manage_commission", _l("Edit a contract's commission tiers"), ("manager",)),
    ]  # fmt: skip


@hookimpl
def register_nav_items():
    from core.web.nav import NavItem

    return [NavItem(_l("Reports"), "reports.index", "reports.view", order=400)]


@hookimpl
def register_commands():
    from plugins.reports.commands import reports_command

    return [reports_command]


@hookimpl
def app_configured(app):
    # A report whose scope holds more cases than this is built as a job with progress.
    from plugins.reports.jobs import DEFAULT_INLINE_CASES

    app.config.setdefault("REPORTS_INLINE_CASES", DEFAULT_INLINE_CASES)
