"""The collection module's hook implementations: what it adds to Maple, all named ``collection``."""

from flask_babel import lazy_gettext as _l

from core import hookimpl
from core.auth.permissions import Permission
from core.modules import ModuleInfo
from plugins.collection import compliance, models

MODULE = ModuleInfo(
    "collection",
    _l("Collection"),
    description=_l(
        "Allocation, the collector workbench, collection records and the compliance gate, "
        "promises and payment claims, letters and SMS, complaints."
    ),
)


@hookimpl
def register_blueprints():
    from plugins.collection.api import collection_api
    from plugins.collection.views import collection

    return [collection, collection_api]


@hookimpl
def register_models():
    return [
        models.CollectionSettings,
        models.ResultCode,
        models.CaseWork,
        models.Promise,
        models.Complaint,
        models.MessageTemplate,
        models.OutboxMessage,
        models.AllocationPlan,
        models.DayFigures,
    ]


@hookimpl
def register_permissions():
    return [
        Permission("collection.allocate", _l("Allocate and reassign cases"), ("manager", "team_leader")),
        Permission("collection.work_own", _l("Work the cases one holds"), ("collector", "team_leader")),
        Permission("collection.work_team", _l("Work the cases of one's team"), ("team_leader",)),
        Permission("collection.work_all", _l("Work any case one can see"), ("manager",)),
        Permission("collection.confirm_payments", _l("Confirm or reject payment claims"), ("manager",)),
        Permission("collection.manage_templates", _l("Edit letter and SMS templates"), ("manager",)),
        Permission("collection.handle_complaints", _l("Handle complaints"), ("manager", "qa_inspector")),
        Permission("collection.print_letters", _l("Print letters with the debtor's name and address"), ("manager",)),
        Permission("collection.manage_settings", _l("Edit a contract's collection settings and result codes"), ("manager",)),
    ]  # fmt: skip


@hookimpl
def register_nav_items():
    from core.web.nav import NavItem

    return [
        # -- alloc: allocation
        NavItem(_l("Allocation"), "collection.allocation_index", "collection.allocate", order=200),
        # -- msg: complaints, templates, the outbox
        NavItem(_l("Complaints"), "collection.complaint_list", "collection.handle_complaints", order=340),
        NavItem(_l("Letter & SMS templates"), "collection.template_list", "collection.manage_templates", order=350),
        NavItem(_l("SMS outbox"), "collection.outbox", "collection.manage_templates", order=360),
        NavItem(_l("Print letters"), "collection.letters", "collection.print_letters", order=355),
        # -- work: collectors and team leaders work their own (team's) cases on the workbench;
        # managers (work_all) get the same queues over every case they see, a page of its own.
        NavItem(_l("Workbench"), "collection.workbench", "collection.work_own", order=150),
        NavItem(_l("Collection queues"), "collection.queues", "collection.work_all", order=160),
        NavItem(_l("Payment confirmation"), "collection.payments", "collection.confirm_payments", order=300),
        NavItem(_l("Collection settings"), "collection.settings_index", "collection.manage_settings", order=800),
    ]  # fmt: skip


@hookimpl
def after_module_enabled(contract):
    from plugins.collection import day_figures, messages, results, work

    compliance.settings_for(contract, create=True)
    results.ensure_defaults(contract)
    messages.ensure_default_templates(contract)
    work.catch_up(contract)  # cases allocated while the module was off join the queues
    # Records written while the module was off never reached after_activity_recorded.
    day_figures.rebuild_contract(contract)


@hookimpl
def check_contact(case, channel, contact_type, target, at):
    return compliance.contact_refusals(
        case, channel=channel, contact_type=contact_type, target=target, at=at
    )


@hookimpl
def activity_titles(contract):
    from plugins.collection import results

    return results.titles_for(contract) | {k: str(t) for k, t in results.ENTRY_KINDS.items()}


@hookimpl
def case_detail_panels(case, user):
    from plugins.collection.views import complaints, messages, work

    panels = [area.case_panel(case, user) for area in (work, messages, complaints)]
    return [panel for panel in panels if panel is not None]


# -- work: the workbench, records, result codes, promises, payment claims ----------------------


@hookimpl
def after_case_assigned(case, holder, previous):
    from plugins.collection import work

    work.case_assigned(case, holder, previous)


@hookimpl
def after_activity_recorded(case, activity):
    from plugins.collection import day_figures, work

    work.activity_recorded(case, activity)
    day_figures.activity_recorded(case, activity)


@hookimpl
def rebuild_day_totals():
    from plugins.collection import day_figures

    day_figures.rebuild()


@hookimpl
def after_payment_recorded(case, payment, user):
    from plugins.collection import promises

    promises.payment_recorded(case, payment, user)


@hookimpl
def register_commands():
    from plugins.collection.commands import collection_command

    return [collection_command]


# -- msg: letters and SMS, the outbox gateway, complaints, report sections ---------------------


@hookimpl
def check_case_work(case, action):
    """An open complaint holds the case (assignment excepted, see complaints.py)."""
    from plugins.collection import complaints

    return complaints.hold_reason(case, action)


@hookimpl(trylast=True)
def send_sms(message):
    """The built-in gateway, asked last: no provider, the message stays in the outbox."""
    from plugins.collection import messages

    return messages.builtin_gateway(message)


@hookimpl
def report_sections(contract, start, end, user):
    from plugins.collection import report_sections

    return report_sections.sections(contract, start, end, user)


# -- alloc: allocation strategies and plans, the allocation sheet import ----------------------


@hookimpl
def register_import_kinds():
    from plugins.collection.imports import import_kinds

    return import_kinds()
