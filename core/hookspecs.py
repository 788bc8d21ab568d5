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
