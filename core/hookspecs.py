"""The plugin API: every hook a Maple plugin may implement.

Hooks are called with keyword arguments only, and an implementation takes only the
arguments it needs::

    from core import hookimpl

    @hookimpl
    def register_permissions():
        return [Permission("litigation.file", _l("File lawsuits"))]

Naming: ``register_<things>`` for startup registries (they return lists),
``after_<noun>_<verb past>`` for events, ``check_<action>`` for vetoes that return the
reasons to refuse. Startup hooks reach every installed plugin; per-contract hooks reach
only the plugins a contract has enabled, through :func:`core.plugins.hooks_for`.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("maple")
hookimpl = pluggy.HookimplMarker("maple")


# -- Startup: called once per app on every installed plugin ---------------------------------


@hookspec
def register_blueprints(app):
    """Return the Flask blueprints this plugin serves.

    Called once while the app is built. Each blueprint must be named after its plugin
    (``Blueprint("litigation", …)``, or ``litigation_<part>`` for a second one) and mounted
    under ``/m/<plugin>``; Maple refuses to start otherwise. Every view of the blueprint
    declares its permission with :func:`core.auth.permissions.require`.

    :param app: the Flask app being built.
    :return: a list of :class:`flask.Blueprint`.
    """


@hookspec
def register_models():
    """Return the SQLAlchemy model classes this plugin defines.

    Every table must be named ``<plugin>_…`` (Maple refuses to start otherwise) and is
    created by the plugin's own Alembic migrations in ``<package>/migrations/``, upgraded
    by ``maple db upgrade`` with the plugin's own version table.

    :return: a list of model classes built on ``core.extensions.db.Model``.
    """


@hookspec
def register_permissions():
    """Return the permissions this plugin introduces.

    Each is a :class:`core.auth.permissions.Permission` whose name starts with the plugin's
    name and a dot (``litigation.file``). An admin grants them to roles on the roles page;
    ``default_roles`` are granted once, when the permission is first seen.

    :return: a list of :class:`~core.auth.permissions.Permission`.
    """


@hookspec
def register_commands():
    """Return click commands to add to the ``maple`` command line.

    Name them after the plugin (``maple litigation …``) so they cannot clash.

    :return: a list of :class:`click.Command` (groups included).
    """


@hookspec
def register_nav_items():
    """Return the navigation entries this plugin adds to the main menu.

    An entry is shown to a user who holds its permission and, for a plugin with a
    ``MODULE``, only while that module is on for at least one contract the user may see.

    :return: a list of :class:`core.web.nav.NavItem`.
    """


@hookspec
def register_import_kinds():
    """Return the import kinds this plugin adds (an allocation sheet, visit results …).

    Each is a :class:`core.imports.kinds.ImportKind` whose name starts with the plugin's
    name (``collection_allocation``); it appears on the import page of contracts that have
    the plugin's module on, gets a template download, header mapping, dry run and commit
    like the core's kinds. Two kinds of one name refuse to start.

    :return: a list of :class:`~core.imports.kinds.ImportKind`.
    """


@hookspec(historic=True)
def app_configured(app):
    """Called once the app is fully built: config loaded, plugins and blueprints registered.

    Historic: a plugin registered later still receives it. Use it for app-level set-up
    that needs the whole app (template filters, error handlers, extensions).

    :param app: the Flask app.
    """


# -- Per contract: called through hooks_for(contract), only on plugins it has enabled ------


@hookspec
def case_detail_panels(case, user):
    """Return panels to show on a case's detail page.

    Called through ``hooks_for(case.contract)`` each time the page is drawn, so a module
    the contract has not enabled adds nothing. The panel's HTML must already be escaped
    (render it with ``render_template``) and must show personal numbers masked unless
    ``user`` may unmask them.

    :param case: the :class:`core.cases.models.Case` being shown.
    :param user: the :class:`core.auth.models.User` looking at it.
    :return: a :class:`core.cases.panels.Panel`, a list of them, or ``None``.
    """


@hookspec
def check_case_work(case, user, action):
    """Veto work on a case: return the reasons it may not be worked now, or nothing.

    Called by every core service before it changes a case on someone's behalf (a contact
    record, a payment claim, an assignment), whoever calls the service — page, API, import
    or command. The core itself refuses paused and closed cases; the collection module adds
    a complaint hold. Any reason refuses the action, and the refusal is audited.

    :param case: the :class:`core.cases.models.Case`.
    :param user: the user acting (``None`` for an import or a command run as the system).
    :param action: what is about to happen, e.g. ``"contact"``, ``"payment_claim"``.
    :return: a reason (str), a list of reasons, or ``None``.
    """


@hookspec
def check_contact(case, user, channel, contact_type, target, at):
    """Veto one contact with a debtor or a third party: return the reasons to refuse it.

    Called before a call, message, letter or visit is recorded or sent, including records
    imported after the fact (they are checked and reported, not dropped). Rules such as the
    contact-hour window or the daily call limit live in the modules that implement this.

    :param case: the :class:`core.cases.models.Case`.
    :param user: the user making the contact (``None`` for imported records).
    :param channel: ``"phone"``, ``"sms"``, ``"letter"``, ``"visit"`` or ``"other"``.
    :param contact_type: ``"debtor"``, ``"spouse"``, ``"relative"``, ``"colleague"``, ``"other"``.
    :param target: the number or address used.
    :param at: when the contact happens, a timezone-aware datetime.
    :return: a reason (str), a list of reasons, or ``None``.
    """


@hookspec
def after_batch_imported(batch, run, user):
    """Called after an import into ``batch`` committed (inside its transaction).

    :param batch: the :class:`core.batches.models.Batch`.
    :param run: the :class:`core.imports.models.ImportRun` with its final report.
    :param user: who ran the import (``None`` from the command line).
    """


@hookspec
def after_case_created(case, user):
    """Called after a new case was stored (by an import or by hand), inside its transaction.

    :param case: the new :class:`core.cases.models.Case` (flushed, so it has an id).
    :param user: who created it (``None`` from the command line).
    """


@hookspec
def after_case_paused(case, reason, user):
    """Called after ``case`` was paused (暂停); it cannot be worked until resumed.

    :param case: the :class:`core.cases.models.Case`.
    :param reason: the reason the user gave.
    :param user: who paused it.
    """


@hookspec
def after_case_resumed(case, reason, user):
    """Called after a paused or closed ``case`` was resumed (恢复) and may be worked again.

    :param case: the :class:`core.cases.models.Case`.
    :param reason: the reason the user gave.
    :param user: who resumed it.
    """


@hookspec
def after_case_closed(case, reason, user):
    """Called after ``case`` was closed (关闭); it cannot be worked until resumed.

    :param case: the :class:`core.cases.models.Case`.
    :param reason: the reason the user gave.
    :param user: who closed it.
    """


@hookspec
def after_case_assigned(case, holder, team, previous, user):
    """Called after ``case`` got a new holder (分案, 调案) or went back to the pool.

    :param case: the :class:`core.cases.models.Case`.
    :param holder: the new holder (a User), or ``None`` when recalled to the pool.
    :param team: the holder's team, or the team the case was given to, or ``None``.
    :param previous: the previous holder, or ``None``.
    :param user: who assigned it.
    """


@hookspec
def activity_titles(contract):
    """Return what the timeline entries this plugin writes are called: their kinds and
    result codes, as the case page shows them.

    Called through ``hooks_for(contract)`` when a case's timeline is shown; the answers of
    all plugins are merged. A code nobody names is shown as stored (an imported bank's own
    wording, say).

    :param contract: the :class:`core.clients.models.Contract` of the case shown.
    :return: a dict ``{code: title}`` (titles translated), or ``None``.
    """


@hookspec
def after_activity_recorded(case, activity, user):
    """Called after an entry was added to ``case``'s timeline (a contact record or a
    module's own entry), whoever added it — page, API or import.

    :param case: the :class:`core.cases.models.Case`.
    :param activity: the new :class:`core.cases.models.Activity`, flushed (it has an id).
    :param user: who recorded it (``None`` for an import run as the system).
    """


@hookspec
def rebuild_day_totals():
    """Rebuild, from the rows they sum, every per-day totals table the plugin keeps
    (``core.day_totals``), set-wise, in the caller's transaction.

    Called on every installed plugin by ``maple db rebuild-totals``: after rows were written
    around the ORM (a bulk load) or the agency's time zone changed (a row's day is the
    agency-local day it happened on).
    """


@hookspec
def report_sections(contract, start, end, user):
    """Return report sections with figures only this plugin knows, for one contract.

    The reports module calls it through ``hooks_for(contract)`` for each contract a report
    covers, so a module the contract has not enabled adds nothing. Aggregate in SQL; a
    section's rows must hold only what ``user`` may see (a collector their own figures), and
    of a report filtered on a team or a collector only their figures
    (``core.report_sections.narrow``).

    A section with one row per user names the row key holding the user id (``user_key``)
    and may declare ``measures`` (:class:`core.report_sections.Measure`): each names the row
    keys of a numerator and, for a ratio, a denominator. The reports sum both per user over
    the contracts before dividing (so rates combine correctly) and rank users by them
    (``higher_is_better`` False for complaints and the like).

    :param contract: the :class:`core.clients.models.Contract`.
    :param start: the first day of the period (a ``date``, included).
    :param end: the day after the period (a ``date``, excluded).
    :param user: who asks for the report.
    :return: a :class:`core.report_sections.ReportSection`, a list of them, or ``None``.
    """


@hookspec(firstresult=True)
def send_sms(message):
    """Deliver one SMS to a debtor; the first gateway that answers takes it.

    Called through ``hooks_for(message.case.contract)`` after the message passed the
    compliance rules and was stored in the sending module's outbox. A gateway plugin
    returns a receipt, or ``None`` to leave the message to the next gateway; the collection
    module's own gateway runs last and keeps the message in its outbox, queued.

    :param message: a :class:`core.messaging.SmsMessage` (case, number, body, reference).
    :return: a :class:`core.messaging.SmsReceipt`, or ``None``.
    """


@hookspec
def after_payment_recorded(case, payment, user):
    """Called after a confirmed repayment changed ``case``'s balance.

    :param case: the :class:`core.cases.models.Case`, its balance already updated.
    :param payment: the confirmed :class:`core.cases.models.Payment`.
    :param user: who recorded or confirmed it (``None`` for an import).
    """


# -- Module switching: called on the switched plugin only ----------------------------------


@hookspec
def after_module_enabled(contract, user):
    """Called on a plugin right after its module was switched on for ``contract``.

    Only the plugin being switched receives it. Typical use: seed per-contract defaults.
    Runs inside the switching request's transaction; raise to undo the switch.

    :param contract: the :class:`core.clients.models.Contract`.
    :param user: the admin who switched it on (``None`` from the command line).
    """


@hookspec
def after_module_disabled(contract, user):
    """Called on a plugin right after its module was switched off for ``contract``.

    Only the plugin being switched receives it. The plugin's data for the contract stays;
    its routes answer 404 and its per-contract hooks are no longer called for it.

    :param contract: the :class:`core.clients.models.Contract`.
    :param user: the admin who switched it off (``None`` from the command line).
    """
