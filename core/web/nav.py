"""Navigation entries, registered through ``register_nav_items`` and filtered per user."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from core.extensions import db


@dataclass(frozen=True)
class NavItem:
    title: str
    #: Flask endpoint the entry links to.
    endpoint: str
    #: Permission needed to see the entry; None means any signed-in user.
    permission: str | None = None
    #: Lower comes first; the core's admin entries sit at 900+.
    order: int = 100


def nav_for(user) -> list[NavItem]:
    """The entries ``user`` may see: permitted, and of a module on for one of their contracts."""
    from core.clients.models import Contract, ContractModule
    from core.clients.services import visible_contracts_query
    from core.plugins import registry

    reg = registry()
    modules_on = None
    items = []
    for plugin, item in reg.nav_items:
        if item.permission and not user.can(item.permission):
            continue
        if plugin in reg.modules:
            if modules_on is None:
                contract_ids = visible_contracts_query(user).with_only_columns(Contract.id)
                modules_on = set(
                    db.session.scalars(
                        select(ContractModule.module)
                        .where(ContractModule.contract_id.in_(contract_ids))
                        .distinct()
                    )
                )
            if plugin not in modules_on:
                continue
        items.append(item)
    return items
