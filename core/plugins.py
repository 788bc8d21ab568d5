"""The plugin manager: finds Maple's plugins, checks them, and serves per-contract hook views.

Built-in modules and partners' plugins are found the same way, through the entry-point
group ``maple.plugins`` (``name = package.module``). Configuration narrows the set:
``PLUGINS`` is an allow-list, ``DISABLED_PLUGINS`` a block-list, ``PLUGIN_MODULES`` adds
plugin objects or import paths that are not installed as packages.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

import pluggy
from flask import Blueprint, current_app

from core import hookspecs
from core.errors import StartupError
from core.modules import ModuleInfo

ENTRY_POINT_GROUP = "maple.plugins"
#: The core registers its own permissions and navigation as a plugin of this name.
CORE_PLUGIN = "core"


class HookView:
    """The hooks of one set of enabled plugins: ``view.case_detail_panels(case=…, user=…)``."""

    def __init__(self, pm: pluggy.PluginManager, removed: list[object]):
        self._pm = pm
        self._removed = removed
        self._callers: dict[str, object] = {}

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        caller = self._callers.get(name)
        if caller is None:
            caller = getattr(self._pm.hook, name)
            if self._removed:
                caller = self._pm.subset_hook_caller(name, remove_plugins=self._removed)
            self._callers[name] = caller
        return caller


class PluginRegistry:
    """One per app: the plugin manager and what the plugins registered at startup."""

    def __init__(self):
        self.pm = pluggy.PluginManager("maple")
        self.pm.add_hookspecs(hookspecs)
        #: plugin name → plugin object (a module, usually)
        self.plugins: dict[str, object] = {}
        #: module name → ModuleInfo, for plugins that are switched per contract
        self.modules: dict[str, ModuleInfo] = {}
        #: permission name → Permission, the core's and every plugin's
        self.permissions: dict = {}
        self.nav_items: list = []
        #: import kind name → ImportKind, the core's and every plugin's
        self.import_kinds: dict = {}
        self.model_tables: dict[str, list[str]] = {}
        self._views_by_removed: dict[frozenset[str], HookView] = {}
        self._contract_views: dict[int, tuple[int, HookView]] = {}

    # -- loading ---------------------------------------------------------------------------

    def load(self, config) -> None:
        from core import default_plugin

        self._register(CORE_PLUGIN, default_plugin)
        allow, block = set(config["PLUGINS"]), set(config["DISABLED_PLUGINS"])
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
            if (allow and ep.name not in allow) or ep.name in block:
                continue
            self._register(ep.name, ep.load())
        for item in config["PLUGIN_MODULES"]:
            plugin = importlib.import_module(item) if isinstance(item, str) else item
            name = getattr(plugin, "MODULE", None)
            name = name.name if name else getattr(plugin, "PLUGIN_NAME", None) or plugin.__name__
            if name not in block:
                self._register(name, plugin)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = self.pm.get_name(exc.plugin)  # pluggy's error carries the plugin object
            raise StartupError(
                f"plugin {name!r} implements a hook Maple does not have: {exc}"
            ) from exc
        self._check_requires()

    def _register(self, name: str, plugin: object) -> None:
        if name == CORE_PLUGIN and self.plugins:
            raise StartupError("a plugin may not be named 'core'")
        if name in self.plugins or self.pm.is_registered(plugin):
            raise StartupError(f"two plugins are named {name!r}; plugin names must be unique")
        module = getattr(plugin, "MODULE", None)
        if module is not None:
            if not isinstance(module, ModuleInfo):
                raise StartupError(f"plugin {name!r}: MODULE must be a core.modules.ModuleInfo")
            if module.name != name:
                raise StartupError(
                    f"plugin {name!r} declares MODULE named {module.name!r}; the names must match"
                )
            self.modules[name] = module
        try:
            self.pm.register(plugin, name=name)
        except ValueError as exc:
            raise StartupError(f"plugin {name!r} could not be registered: {exc}") from exc
        self.plugins[name] = plugin

    def _check_requires(self) -> None:
        for module in self.modules.values():
            for needed in module.requires:
                if needed not in self.modules:
                    raise StartupError(
                        f"module {module.name!r} requires {needed!r}, which is not installed"
                    )
        for name in self.modules:
            self.dependency_order(name)  # raises on a cycle

    def each_result(self, hook_name: str, plugin_names=None, **kwargs):
        """Call one hook on each plugin separately; yield ``(plugin_name, result)``.

        Used where Maple must know which plugin returned what (registries are checked
        against the plugin's namespace; switching calls only the switched plugin).
        """
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            if plugin_names is not None and impl.plugin_name not in plugin_names:
                continue
            args = {name: kwargs[name] for name in impl.argnames}
            yield impl.plugin_name, impl.function(**args)

    def call_plugin(self, plugin: str, hook_name: str, **kwargs) -> list:
        """Call ``hook_name`` on one plugin only (module switching)."""
        return [result for _name, result in self.each_result(hook_name, {plugin}, **kwargs)]

    # -- what plugins register at startup ----------------------------------------------------

    def install(self, app) -> None:
        """Collect the startup registries, check each against its plugin's name, apply them."""
        for plugin, models in self.each_result("register_models"):
            tables = []
            for model in models or []:
                table = model.__table__.name
                if not table.startswith(f"{plugin}_"):
                    raise StartupError(
                        f"plugin {plugin!r} defines table {table!r}; "
                        f"its tables must be named {plugin}_…"
                    )
                tables.append(table)
            self.model_tables[plugin] = tables

        from core.auth.guard import is_api_blueprint
        from core.extensions import csrf

        for plugin, blueprints in self.each_result("register_blueprints", app=app):
            for bp in blueprints or []:
                self._check_blueprint(plugin, bp)
                if is_api_blueprint(bp.name):
                    csrf.exempt(bp)  # token-authenticated like the core's API
                app.register_blueprint(bp)

        for plugin, permissions in self.each_result("register_permissions"):
            for permission in permissions or []:
                if permission.namespace != plugin:
                    raise StartupError(
                        f"plugin {plugin!r} registers permission {permission.name!r}; "
                        f"its permissions must be named {plugin}.…"
                    )
                if permission.name in self.permissions:
                    raise StartupError(f"permission {permission.name!r} is registered twice")
                self.permissions[permission.name] = permission

        for plugin, items in self.each_result("register_nav_items"):
            for item in items or []:
                self.nav_items.append((plugin, item))
        self.nav_items.sort(key=lambda pair: pair[1].order)

        from core.imports.kinds import core_kinds

        self.import_kinds = {kind.name: kind for kind in core_kinds()}
        for plugin, kinds in self.each_result("register_import_kinds"):
            for kind in kinds or []:
                if plugin != CORE_PLUGIN and not kind.name.startswith(f"{plugin}_"):
                    raise StartupError(
                        f"plugin {plugin!r} registers import kind {kind.name!r}; "
                        f"its kinds must be named {plugin}_…"
                    )
                if kind.name in self.import_kinds:
                    raise StartupError(f"two plugins register import kind {kind.name!r}")
                self.import_kinds[kind.name] = replace(kind, plugin=plugin)

        for _plugin, commands in self.each_result("register_commands"):
            for command in commands or []:
                app.cli.add_command(command)

    @staticmethod
    def _check_blueprint(plugin: str, bp: Blueprint) -> None:
        if bp.name != plugin and not bp.name.startswith(f"{plugin}_"):
            raise StartupError(
                f"plugin {plugin!r} registers blueprint {bp.name!r}; "
                f"it must be named {plugin!r} or {plugin}_…"
            )
        prefix = (bp.url_prefix or "").rstrip("/")
        if prefix != f"/m/{plugin}" and not prefix.startswith(f"/m/{plugin}/"):
            raise StartupError(
                f"plugin {plugin!r} mounts blueprint {bp.name!r} at {bp.url_prefix!r}; "
                f"it must live under /m/{plugin}"
            )

    # -- modules -----------------------------------------------------------------------------

    def dependency_order(self, name: str, _path: tuple[str, ...] = ()) -> list[str]:
        """``name`` and everything it requires, dependencies first."""
        if name in _path:
            raise StartupError(f"modules require each other in a circle: {' → '.join(_path)}")
        order: list[str] = []
        for needed in self.modules[name].requires:
            for item in self.dependency_order(needed, (*_path, name)):
                if item not in order:
                    order.append(item)
        order.append(name)
        return order

    def dependents(self, name: str, enabled: set[str]) -> list[str]:
        """Enabled modules that require ``name`` directly."""
        return sorted(m for m in enabled if m in self.modules and name in self.modules[m].requires)

    def plugin_folder(self, plugin: str, name: str) -> Path | None:
        """The folder ``name`` beside the plugin's code (its migrations, its translations)."""
        obj = self.plugins[plugin]
        try:
            source = obj.__file__ if isinstance(obj, ModuleType) else inspect.getfile(type(obj))
        except (AttributeError, TypeError):
            return None  # built in memory (PLUGIN_MODULES in tests): no files
        if source is None:  # a namespace package
            return None
        folder = Path(source).parent / name
        return folder if folder.is_dir() else None

    def migrations_dir(self, plugin: str) -> Path | None:
        return self.plugin_folder(plugin, "migrations")

    def add_translations(self, app) -> None:
        """Put each plugin's ``translations/`` catalogs before the core's.

        Flask-Babel merges the catalogs in order and a later one wins, so a plugin
        translates its own messages but cannot change the core's.
        """
        folders = [
            str(folder)
            for name in self.plugins
            if name != CORE_PLUGIN and (folder := self.plugin_folder(name, "translations"))
        ]
        babel_config = app.extensions["babel"]
        babel_config.translation_directories[:0] = folders

    # -- per-contract views ------------------------------------------------------------------

    def view_for(self, contract) -> HookView:
        cached = self._contract_views.get(contract.id)
        if cached and cached[0] == contract.modules_version:
            return cached[1]
        enabled = contract.enabled_modules
        removed = frozenset(name for name in self.modules if name not in enabled)
        view = self._views_by_removed.get(removed)
        if view is None:
            view = HookView(self.pm, [self.plugins[name] for name in sorted(removed)])
            self._views_by_removed[removed] = view
        self._contract_views[contract.id] = (contract.modules_version, view)
        return view

    def forget(self, contract) -> None:
        self._contract_views.pop(contract.id, None)


def registry() -> PluginRegistry:
    return current_app.extensions["maple_plugins"]


def hooks_for(contract) -> HookView:
    """The hooks of the plugins ``contract`` has enabled (plus those always on)."""
    return registry().view_for(contract)


def all_hooks():
    """Hooks of every installed plugin: for startup registries and clean-up only."""
    return registry().pm.hook
