"""Functional modules: what each declares, and switching them on and off per contract."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import abort
from flask_babel import gettext as _

from core.errors import Conflict, UserError


@dataclass(frozen=True)
class ModuleInfo:
    """What a plugin declares as ``MODULE`` to be switched per contract.

    ``MODULE = ModuleInfo("litigation", _l("Litigation"), requires=("collection",))``
    """

    #: The plugin's name: its blueprint, table prefix and permission namespace.
    name: str
    #: Shown to admins and in menus (a lazy_gettext string).
    title: str
    #: Modules that must be on for this one to work; switched on with it.
    requires: tuple[str, ...] = field(default=())
    description: str = ""


def _registry():
    from core.plugins import registry

    return registry()


def installed_modules() -> list[ModuleInfo]:
    return sorted(_registry().modules.values(), key=lambda module: module.name)


def is_enabled(contract, name: str) -> bool:
    return name in _registry().modules and name in contract.enabled_modules


def require_module(contract, name: str) -> None:
    """Answer 404 unless ``contract`` has module ``name`` on: its objects do not exist there."""
    if not is_enabled(contract, name):
        abort(404)


def enable_module(contract, name: str, user) -> list[str]:
    """Switch ``name`` on for ``contract``, with every module it requires.

    :return: the modules that were off and are now on, dependencies first.
    """
    from core.audit.services import record
    from core.clients.models import ContractModule

    registry = _registry()
    if name not in registry.modules:
        raise UserError(_("There is no module named %(name)s.", name=name))
    enabled = contract.enabled_modules
    newly = [m for m in registry.dependency_order(name) if m not in enabled]
    for module in newly:
        contract.module_rows.append(
            ContractModule(module=module, enabled_by_id=user.id if user else None)
        )
    if not newly:
        return []
    contract.modules_version += 1
    registry.forget(contract)
    for module in newly:
        record(
            "module.enabled",
            obj=contract,
            user=user,
            details={"module": module, "requested": name},
        )
        registry.call_plugin(module, "after_module_enabled", contract=contract, user=user)
    return newly


def disable_module(contract, name: str, user) -> None:
    """Switch ``name`` off for ``contract``; refused while an enabled module requires it."""
    from core.audit.services import record

    registry = _registry()
    enabled = contract.enabled_modules
    if name not in enabled:
        return
    dependents = registry.dependents(name, enabled)
    if dependents:
        titles = ", ".join(str(registry.modules[m].title) for m in dependents)
        raise Conflict(
            _(
                "%(module)s cannot be switched off while %(dependents)s, which need it, are on.",
                module=registry.modules[name].title if name in registry.modules else name,
                dependents=titles,
            )
        )
    for row in list(contract.module_rows):
        if row.module == name:
            contract.module_rows.remove(row)
    contract.modules_version += 1
    registry.forget(contract)
    record("module.disabled", obj=contract, user=user, details={"module": name})
    registry.call_plugin(name, "after_module_disabled", contract=contract, user=user)
