"""The notes plugin's hook implementations: what it adds to Maple, each named ``notes``."""

from flask import render_template
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from core import hookimpl
from core.auth.permissions import STAFF_ROLES, Permission
from core.cases.panels import Panel
from core.modules import ModuleInfo
from core.web.nav import NavItem
from maple_notes.models import Note
from maple_notes.services import latest_notes
from maple_notes.views import notes

MODULE = ModuleInfo("notes", _l("Notes"), description=_l("Short notes shared on a contract."))


@hookimpl
def register_blueprints():
    return [notes]


@hookimpl
def register_models():
    return [Note]


@hookimpl
def register_permissions():
    return [
        Permission("notes.read", _l("Read contract notes"), (*STAFF_ROLES, "client_viewer")),
        Permission("notes.write", _l("Write contract notes"), STAFF_ROLES),
    ]


@hookimpl
def register_nav_items():
    return [NavItem(_l("Notes"), "notes.index", "notes.read", order=500)]


@hookimpl
def case_detail_panels(case, user):
    if not user.can("notes.read"):
        return None
    notes_ = latest_notes(case.contract, 5)  # the latest few: the notes page has them all
    html = render_template("notes/panel.html", contract=case.contract, notes=notes_)
    return Panel(_l("Contract notes"), Markup(html), order=800)
