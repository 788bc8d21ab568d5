"""The collection module's hook implementations (for now: its compliance gate)."""

from flask_babel import lazy_gettext as _l

from core import hookimpl
from core.modules import ModuleInfo
from plugins.collection import services
from plugins.collection.models import CollectionSettings

MODULE = ModuleInfo(
    "collection",
    _l("Collection"),
    description=_l(
        "Allocation, the collector workbench, collection records and the compliance gate."
    ),
)


@hookimpl
def register_models():
    return [CollectionSettings]


@hookimpl
def after_module_enabled(contract):
    services.settings_for(contract, create=True)


@hookimpl
def check_contact(case, channel, contact_type, target, at):
    return services.contact_refusals(
        case, channel=channel, contact_type=contact_type, target=target, at=at
    )
