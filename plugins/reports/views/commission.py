"""Commission tiers per contract (佣金分档), and closing a contract's commission months
(结算确认).

The list of contracts (visible, with the reports module on) and, per contract, its flat
rate (read-only: the contract's own) and one rate per bucket as percentages, blank for the
flat rate. The rules live in :mod:`plugins.reports.commission`.
"""

from __future__ import annotations

from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from core.auth.permissions import require
from core.cases.filters import BUCKETS
from core.day_totals import from_cents, local_date
from core.errors import UserError
from core.extensions import db
from plugins.reports.commission import (
    as_percent,
    close_month,
    closing_months,
    reopen_month,
    save_tiers,
    tier_contract,
    tier_contracts,
    tiers_of,
)
from plugins.reports.framework import MAX_ID, MONEY
from plugins.reports.views import reports
from plugins.reports.views.pages import format_cell


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


@reports.get("/commission-closings")
@require("reports.manage_commission")
def commission_closings():
    contracts = tier_contracts(current_user)
    return render_template(
        "reports/commission_closings.html",
        contracts=contracts,
        months={contract.id: closing_months(contract) for contract in contracts},
        closed_day=lambda closing: local_date(closing.closed_at).isoformat(),
        money=lambda cents: format_cell(from_cents(cents), MONEY),
    )


@reports.post("/commission-closings/<int:contract_id>/<month>")
@require("reports.manage_commission")
def commission_closing(contract_id, month):
    contract = tier_contract(current_user, contract_id) if 0 < contract_id <= MAX_ID else None
    try:
        first_day = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        first_day = None
    if contract is None or first_day is None:
        abort(404)
    action = request.form.get("action")
    if action not in ("close", "reopen"):
        abort(400)
    try:
        if action == "close":
            close_month(contract, first_day, current_user)
        else:
            reopen_month(contract, first_day, current_user)
    except UserError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        done = (
            _("%(month)s of %(number)s closed.", month=month, number=contract.number)
            if action == "close"
            else _("%(month)s of %(number)s reopened.", month=month, number=contract.number)
        )
        flash(done, "success")
    return redirect(url_for("reports.commission_closings") + f"#closings-{contract.id}")
