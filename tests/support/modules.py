"""Small in-memory modules for tests that need per-contract switching."""

from types import SimpleNamespace

from core.hookspecs import hookimpl
from core.modules import ModuleInfo


def module_plugin(name, requires=(), calls=None):
    """A plugin object with a MODULE that records the switching hooks it receives."""
    calls = calls if calls is not None else []

    class Plugin:
        MODULE = ModuleInfo(
            name, name.title(), requires=tuple(requires), description=f"{name} test"
        )

        @hookimpl
        def after_module_enabled(self, contract):
            calls.append(("enabled", name, contract.id))

        @hookimpl
        def after_module_disabled(self, contract):
            calls.append(("disabled", name, contract.id))

    return SimpleNamespace(plugin=Plugin(), calls=calls)
