"""The case detail page: the core's part, and the panels enabled modules add."""

from flask import Blueprint, abort, render_template
from flask_login import current_user

from core.audit.services import record
from core.auth.permissions import require
from core.cases.models import Case
from core.cases.panels import collect_panels
from core.clients.services import can_see_contract
from core.extensions import db
from core.plugins import hooks_for

cases = Blueprint("cases", __name__, url_prefix="/cases")


def _visible_case(case_id: int) -> Case:
    """The case, or 404 when it does not exist or its contract is not the user's."""
    case = db.session.get(Case, case_id)
    if case is None or not can_see_contract(current_user, case.contract):
        abort(404)
    return case


def _render(case: Case, unmasked: bool):
    panels = collect_panels(
        hooks_for(case.contract).case_detail_panels(case=case, user=current_user)
    )
    return render_template("core/case_detail.html", case=case, panels=panels, unmasked=unmasked)


@cases.route("/<int:case_id>")
@require("core.cases.view")
def detail(case_id):
    return _render(_visible_case(case_id), unmasked=False)


@cases.route("/<int:case_id>/unmask", methods=["POST"])
@require("core.pii.unmask")
def unmask(case_id):
    case = _visible_case(case_id)
    record("case.unmasked", obj=case, details={"fields": ["id_no", "card_no", "mobile"]})
    db.session.commit()
    return _render(case, unmasked=True)
