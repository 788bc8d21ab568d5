"""Commission tiers per contract (佣金分档): the settings page.

The list of contracts (visible, with the reports module on) and, per contract, its flat
rate (read-only: the contract's own) and one rate per bucket as percentages, blank for the
flat rate. The rules live in :mod:`plugins.reports.commission`.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from core.auth.permissions import require
from core.cases.filters import BUCKETS
from core.errors import UserError
from core.extensions import db
from plugins.reports.commission import (
    as_percent,
    save_tiers,
    tier_contract,
    tier_contracts,
    tiers_of,
)
from plugins.reports.framework import MAX_ID
from plugins.reports.views import reports


@reports.get("/commission-tiers")
@require("reports.manage_commission")
def commission_tiers():
    contracts = tier_contracts(current_user)
    tiered = {contract.id: tiers_of(contract) for contract in contracts}
    return render_template(
        "reports/commission_tiers.html",
        contracts=contracts,
        tiered=tiered,
        as_percent=as_percent,
    )


@reports.route("/commission-tiers/<int:contract_id>", methods=["GET", "POST"])
@require("reports.manage_commission")
def commission_tier_form(contract_id):
    contract = tier_contract(current_user, contract_id) if 0 < contract_id <= MAX_ID else None
    if contract is None:
        abort(404)
    values = {bucket: as_percent(rate) for bucket, rate in tiers_of(contract).items()}
    errors, status = {}, 200
    if request.method == "POST":
        values = {bucket: request.form.get(f"rate_{bucket}", "") for bucket in BUCKETS}
        try:
            save_tiers(contract, values, current_user)
        except UserError as error:
            db.session.rollback()
            errors, status = error.fields, 422
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(_("Commission tiers of %(number)s saved.", number=contract.number), "success")
            return redirect(url_for("reports.commission_tier_form", contract_id=contract.id))
    return (
        render_template(
            "reports/commission_tier_form.html",
            contract=contract,
            buckets=BUCKETS,
            values=values,
            errors=errors,
            flat=as_percent(contract.commission_rate),
        ),
        status,
    )
