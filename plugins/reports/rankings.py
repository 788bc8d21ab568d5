"""Rankings: collectors and teams on a balanced scorecard, never on the amount alone.

Five measures, each from where it is known:

- **recovery rate**: recovered in the period ÷ the entrusted amount of the cases held at the
  end of the period, as the recovery report counts them (``recovery.paid_per_holder``, the
  per-day totals of ``attributed_payments``' rule, and ``recovery.held_at_end_by``, the rule
  of ``entrusted_held_at_end``): a case handed
  over mid-period counts for its new holder, the payments before the hand-over stay the
  previous holder's;
- **kept rate**, **contact rate** and **first-contact compliance** (首催时限): from the
  collection module's per-user scorecard (``collection.scorecard`` through the
  ``report_sections`` hook), numerators and denominators summed over contracts;
- **complaints per 100 cases held** (fewer is better): the scorecard's complaints ÷ the cases
  held at the end of the period on the contracts that have the collection module.

Each measure is scaled 0–100 among those ranked (min–max, the best 100; all equal: 100), and
the score is the weighted mean of the scaled measures a collector has (weights
:data:`WEIGHTS`): a measure missing for them (no promises judged, the module off) drops out
and the weights of the rest are rescaled. Ranked by score, ties by name. A team's figures are
its members' summed numerators and denominators, plus its pooled cases' (held by the team).

What was held and what was paid are each read once for both tables, from the per-day
totals of core.cases.holdings (one statement grouping by holder, team and contract, then
summed per collector and per team).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, literal, select, union_all

from core.auth.models import User
from core.extensions import db
from plugins.reports.activity import SCORECARD, UserFigures, user_figures
from plugins.reports.framework import (
    INT,
    MONEY,
    RATE,
    TEXT,
    Chart,
    Column,
    ReportResult,
    Scope,
    Table,
    from_cents,
    names_of,
    rate,
    report,
)
from plugins.reports.recovery import held_at_end_by, paid_per_holder

RECOVERY, KEPT, CONTACT, COMPLIANCE, COMPLAINTS = (
    "recovery_rate",
    "kept_rate",
    "contact_rate",
    "first_contact_compliance",
    "complaints_per_100",
)
#: Weight of each measure in the score (the rest rescaled when one is missing).
WEIGHTS = {RECOVERY: 30, KEPT: 20, CONTACT: 20, COMPLIANCE: 20, COMPLAINTS: 10}
#: Measures where fewer is better.
LOWER_IS_BETTER = frozenset({COMPLAINTS})
#: The scorecard measure each ranked ratio comes from.
SCORECARD_MEASURES = {
    KEPT: "kept_rate",
    CONTACT: "contact_rate",
    COMPLIANCE: "first_contact_compliance",
}
POINT = Decimal("0.1")
CENT = Decimal("0.01")


# -- the score ---------------------------------------------------------------------------------


def scaled(values: dict, *, higher_is_better: bool = True) -> dict:
    """Each value scaled 0–100 among the others (min–max; the best 100); all equal: 100;
    a missing value (None) stays missing."""
    present = [v for v in values.values() if v is not None]
    if not present:
        return dict.fromkeys(values)
    low, high = min(present), max(present)
    out = {}
    for key, value in values.items():
        if value is None:
            out[key] = None
        elif high == low:
            out[key] = 100
        else:
            share = (value - low) if higher_is_better else (high - value)
            out[key] = share * 100 / (high - low)
    return out


def scores(
    measures: dict[str, dict], weights: dict[str, int] = WEIGHTS, *, exact: bool = False
) -> dict:
    """``{key: score}``: the weighted mean (to 0.1, or the ``exact`` fraction) of each one's
    scaled measures; the weights of the measures a key lacks are left out (the others
    rescaled); None if it has none.

    :param measures: measure → key → raw value (None: missing).
    """
    scaled_measures = {
        name: scaled(values, higher_is_better=name not in LOWER_IS_BETTER)
        for name, values in measures.items()
    }
    keys = {key for values in measures.values() for key in values}
    out = {}
    for key in keys:
        weighted, total = 0, 0
        for name, values in scaled_measures.items():
            value = values.get(key)
            if value is not None:
                weighted += value * weights[name]
                total += weights[name]
        if not total:
            out[key] = None
        else:
            score = Fraction(weighted) / total
            out[key] = score if exact else _decimal(score).quantize(POINT)
    return out


def _decimal(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


# -- the figures -------------------------------------------------------------------------------


@dataclass
class Entry:
    """One ranked collector or team, with the raw figures behind each measure."""

    key: int
    name: str
    cases: int = 0
    entrusted: Decimal = Decimal("0.00")
    recovered: Decimal = Decimal("0.00")
    #: measure → (numerator, denominator) from the scorecard; missing if the module is off.
    ratios: dict | None = None
    complaints: int | None = None
    #: Cases held on the contracts that have the collection module (complaints' base).
    collection_cases: int = 0

    def measures(self, *, exact: bool = False) -> dict:
        """measure → value: as shown (rates to four places, complaints per 100 cases to two),
        or ``exact`` fractions, which the score is computed from (so that rounding never
        decides between two close collectors)."""
        divide = _fraction if exact else rate
        values = {RECOVERY: divide(self.recovered, self.entrusted)}
        for name in (KEPT, CONTACT, COMPLIANCE):
            found = (self.ratios or {}).get(name)
            values[name] = divide(*found) if found else None
        values[COMPLAINTS] = None
        if self.complaints is not None and self.collection_cases:
            per_100 = _fraction(self.complaints * 100, self.collection_cases)
            values[COMPLAINTS] = per_100 if exact else _decimal(per_100).quantize(CENT)
        return values


def _fraction(numerator, denominator) -> Fraction | None:
    """``numerator ÷ denominator`` exactly (None when nothing to divide), as :func:`rate`."""
    if not denominator:
        return None
    return Fraction(Decimal(numerator)) / Fraction(Decimal(denominator))


def recovered_by(scope: Scope, groups) -> dict:
    """``{group: {key: recovered}}`` per collector and/or team (``groups``), as the recovery
    report attributes payments: the attributed payments are read once for every group."""
    paid = paid_per_holder(scope)
    column = {"collector": paid.c.holder_id, "team": paid.c.team_id}
    statement = union_all(
        *(
            select(literal(group), column[group], func.sum(paid.c.cents))
            .where(column[group].is_not(None))
            .group_by(column[group])
            for group in groups
        )
    )
    found = {group: {} for group in groups}
    for group, key, total in db.session.execute(statement):
        found[group][key] = from_cents(total)
    return found


def _recovered(scope: Scope, group: str) -> dict:
    """Recovered per collector or team, as the recovery report attributes payments."""
    return recovered_by(scope, (group,))[group]


def _scorecard_sums(figures: UserFigures, members: dict[int, list[int]]) -> dict:
    """key → measure → (numerator, denominator), and key → complaints, over each key's users."""
    section = figures.section
    by_key = {m.key: m for m in section.measures} if section is not None else {}
    ratios, complaints = {}, {}
    for key, user_ids in members.items():
        wanted = set(user_ids)
        ratios[key] = {
            name: figures.measure(by_key[source], wanted)
            for name, source in SCORECARD_MEASURES.items()
            if source in by_key
        }
        if "complaints" in by_key:
            complaints[key] = figures.measure(by_key["complaints"], wanted)[0]
    return {"ratios": ratios, "complaints": complaints}


def held_figures(scope: Scope, groups, figures: UserFigures) -> dict:
    """What :func:`entries` needs for ``groups``, each table read once for all of them:
    ``held`` (cases held at the end of the period, as the recovery report counts them, also
    on the contracts with the collection module when not all have it) and ``recovered``."""
    within = None
    if figures.section is not None and set(figures.contract_ids) != set(scope.contract_ids):
        within = figures.contract_ids  # some contracts without the module
    return {
        "held": held_at_end_by(scope, groups, within),
        "recovered": recovered_by(scope, groups),
    }


def entries(
    scope: Scope, group: str, figures: UserFigures, read: dict | None = None
) -> list[Entry]:
    """The collectors (``group="collector"``) or teams who held cases at the end of the period
    or were paid on cases they held, with their figures (``read``: :func:`held_figures`, if
    already read for this group)."""
    read = held_figures(scope, (group,), figures) if read is None else read
    held = read["held"][group]
    recovered = read["recovered"][group]
    keys = sorted((set(held) | set(recovered)) - {None})
    if not keys:
        return []
    names = names_of(group, keys)
    if group == "collector":
        members = {k: [k] for k in keys}
    else:
        members = {k: [] for k in keys}
        for user_id, team_id in db.session.execute(
            select(User.id, User.team_id).where(User.team_id.in_(keys))
        ):
            members[team_id].append(user_id)
    collection_cases = {}
    sums = {"ratios": {}, "complaints": {}}
    if figures.section is not None:
        sums = _scorecard_sums(figures, members)
        counted = read["held"].get((group, "within"), held)
        collection_cases = {k: n for k, (n, _amount) in counted.items()}
    out = []
    for key in keys:
        cases, entrusted = held.get(key, (0, Decimal("0.00")))
        out.append(
            Entry(
                key=key,
                name=str(names.get(key, key)),
                cases=cases,
                entrusted=entrusted,
                recovered=recovered.get(key, Decimal("0.00")),
                ratios=sums["ratios"].get(key),
                complaints=sums["complaints"].get(key),
                collection_cases=collection_cases.get(key, 0),
            )
        )
    return out


def ranked_rows(found: list[Entry]) -> list[dict]:
    """Rows in rank order: each measure as shown and the score; ties by name."""
    measures = {name: {} for name in WEIGHTS}
    exact = {name: {} for name in WEIGHTS}
    for entry in found:
        for name, value in entry.measures().items():
            measures[name][entry.key] = value
        for name, value in entry.measures(exact=True).items():
            exact[name][entry.key] = value
    score_of = scores(exact, exact=True)
    rows = []
    for entry in found:
        rows.append(
            {
                "name": entry.name,
                "cases": entry.cases,
                "entrusted": entry.entrusted,
                "recovered": entry.recovered,
                **{name: measures[name][entry.key] for name in WEIGHTS},
                "complaints": entry.complaints,
                "score": score_of[entry.key],
            }
        )
    # Ranked by the exact score; shown to 0.1.
    rows.sort(key=lambda row: (row["score"] is None, -(row["score"] or 0), row["name"]))
    for position, row in enumerate(rows, start=1):
        row["rank"] = position
        if row["score"] is not None:
            row["score"] = _decimal(row["score"]).quantize(POINT)
    return rows


# -- the report --------------------------------------------------------------------------------


def _columns(title: str) -> list[Column]:
    # Scores and complaints per 100 cases are plain numbers with two places: the money format.
    return [
        Column("rank", _("Rank"), INT),
        Column("name", title, TEXT),
        Column("score", _("Score (0–100)"), MONEY),
        Column("cases", _("Cases held"), INT),
        Column("entrusted", _("Entrusted"), MONEY),
        Column("recovered", _("Recovered"), MONEY),
        Column(RECOVERY, _("Recovery rate"), RATE),
        Column(KEPT, _("Kept rate"), RATE),
        Column(CONTACT, _("Contact rate"), RATE),
        Column(COMPLIANCE, _("First-contact compliance"), RATE),
        Column("complaints", _("Complaints"), INT),
        Column(COMPLAINTS, _("Complaints per 100 cases held"), MONEY),
    ]


def method_note() -> str:
    return _(
        "Score: each measure scaled 0–100 among those ranked (the best 100, the worst 0; all "
        "equal: 100), weighted recovery rate 30, kept rate 20, contact rate 20, first-contact "
        "compliance 20, complaints per 100 cases held 10 (fewer is better); a measure someone "
        "lacks (no promises judged, no collection module) leaves the score and the other "
        "weights are rescaled. Ranked by score, ties by name; never by the amount recovered."
    )


@report(
    "rankings",
    _l("Rankings"),
    order=40,
    description=_l(
        "Collectors and teams on a balanced scorecard: recovery rate, promises kept, contact "
        "rate, first-contact compliance and complaints, never the amount alone."
    ),
)
def rankings(scope: Scope) -> ReportResult:
    """Collectors and teams ranked by their score over the five measures."""
    if scope.empty:
        scope = replace(scope, contract_ids=[], user_ids=[], team_ids=[])
    figures = user_figures(scope, SCORECARD)
    notes = [method_note()]
    if figures.section is None:
        notes.append(
            _(
                "No contract here has the collection module: kept rate, contact rate, "
                "first-contact compliance and complaints are missing, so the score is the "
                "recovery rate's alone."
            )
        )
    if scope.filter.batch is not None and figures.section is not None:
        notes.append(
            _(
                "With a batch chosen, the recovery rate is the batch's; kept rate, contact "
                "rate, first-contact compliance and complaints are the collection module's "
                "figures for the whole contracts."
            )
        )
    if scope.user_ids == [scope.user.id] and scope.filter.collector is None:
        notes.append(
            _(
                "You see only your own row: the score compares those shown, so alone it is "
                "100 for each measure you have."
            )
        )
    groups = [("collector", "rankings_collectors", _("Collector"), _("Collectors ranked"))]
    # A team is ranked only for who sees a whole team's figures (not a collector's own share).
    if scope.user_ids is None or scope.team_ids:
        groups.append(("team", "rankings_teams", _("Team"), _("Teams ranked")))
    read = held_figures(scope, [group for group, *_rest in groups], figures)
    tables = []
    for group, key, title, table_title in groups:
        tables.append(
            Table(
                key=key,
                title=table_title,
                columns=_columns(title),
                rows=ranked_rows(entries(scope, group, figures, read)),
                chart=Chart("bar", "name", ("score",), _("Score (0–100)")),
                note=_(
                    "Those who held cases at the end of the period or were paid on cases they "
                    "held. Recovery rate: recovered ÷ the entrusted amount of the cases held at "
                    "the end of the period (as in the recovery report). A team's figures add "
                    "up its members' and its pooled cases'."
                ),
            )
        )
    return ReportResult(tables=tables, notes=notes)
