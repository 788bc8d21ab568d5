"""The JSON API for allocation: preview a strategy's plan, commit it, give cases directly to a
collector or team, recall them to the pool.

The cases are named by ``case_ids``, or by ``filter`` (the case list's query parameters, as a
JSON object: ``{"area": "苏南", "status": "normal"}``) with an optional ``holder`` (``pool``:
nobody holds them; a user id). A case the user may not allocate answers 404.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.api.endpoint import endpoint
from core.api.schemas import MAX_ID, Text
from core.cases.filters import CaseFilter
from core.cases.schemas import JobSchema
from core.errors import InvalidInput, NotFound
from core.extensions import db
from core.jobs.services import own_job, status
from plugins.collection import allocation as service
from plugins.collection.api import collection_api

TAG = "collection: allocation"
PERMISSION = "collection.allocate"


class ChoiceSchema(Schema):
    """Which cases: ``case_ids``, or every case ``filter`` (and ``holder``) finds."""

    case_ids = fields.List(fields.Integer(validate=validate.Range(1, MAX_ID)))
    filter = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "the case list's query parameters (area, contract, status …)"},
    )
    holder = fields.String(
        validate=validate.Regexp(r"^(pool|[1-9][0-9]{0,9})$"),
        metadata={"description": "with filter: 'pool' (nobody holds them) or a user's id"},
    )

    @validates_schema
    def one_choice(self, data, **kwargs):
        if ("case_ids" in data) == ("filter" in data):
            raise ValidationError(_("Send either case_ids or filter."), "case_ids")
        if "holder" in data and "filter" not in data:
            raise ValidationError(_("holder narrows a filter; send it with filter."), "holder")


class PreviewSchema(ChoiceSchema):
    strategy = fields.String(required=True, validate=validate.OneOf(tuple(service.STRATEGIES)))
    collectors = fields.List(
        fields.Integer(validate=validate.Range(1, MAX_ID)),
        load_default=list,
        metadata={"description": "user ids (even_count, even_amount, same_debtor)"},
    )
    areas = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(validate=validate.Range(1, MAX_ID)),
        load_default=dict,
        metadata={"description": "area_team: collection area → team id"},
    )
    area_mode = fields.String(
        load_default=service.TO_POOL, validate=validate.OneOf(tuple(service.AREA_MODES))
    )
    basis = fields.String(
        load_default=service.DEFAULT_BASIS, validate=validate.OneOf(tuple(service.BASES))
    )
    reason = Text(load_default="", validate=validate.Length(max=200))


class AssignSchema(ChoiceSchema):
    user_id = fields.Integer(validate=validate.Range(1, MAX_ID))
    team_id = fields.Integer(validate=validate.Range(1, MAX_ID))
    reason = Text(load_default="", validate=validate.Length(max=200))

    @validates_schema
    def one_target(self, data, **kwargs):
        if ("user_id" in data) == ("team_id" in data):
            raise ValidationError(_("Send either user_id or team_id."), "user_id")


class RecallSchema(ChoiceSchema):
    reason = Text(load_default="", validate=validate.Length(max=200))


class PlanRowSchema(Schema):
    """One collector, team pool or the pool in a preview: before, in, out and after."""

    key = fields.String(metadata={"description": "user:<id>, team:<id> or pool"})
    kind = fields.String(metadata={"enum": ["user", "team", "pool"]})
    id = fields.Integer(allow_none=True)
    name = fields.String()
    team = fields.String()
    target = fields.Boolean(metadata={"description": "false: a holder who only gives cases up"})
    before_cases = fields.Integer()
    before_amount = fields.String()
    in_cases = fields.Integer()
    in_amount = fields.String()
    out_cases = fields.Integer()
    out_amount = fields.String()
    after_cases = fields.Integer()
    after_amount = fields.String()


class TotalSchema(Schema):
    cases = fields.Integer()
    amount = fields.String()
    unchanged = fields.Integer(metadata={"description": "already where the plan puts them"})


class TargetResultSchema(Schema):
    """What the commit did for one target of the plan."""

    planned = fields.Integer()
    changed = fields.Integer()
    changed_amount = fields.String(metadata={"description": "the money given, as previewed"})
    unchanged = fields.Integer()
    skipped = fields.Dict(keys=fields.String(), values=fields.Integer())
    skipped_total = fields.Integer()


class ResultSchema(Schema):
    changed = fields.Integer()
    unchanged = fields.Integer()
    skipped = fields.Dict(keys=fields.String(), values=fields.Integer())
    skipped_total = fields.Integer()
    examples = fields.List(
        fields.List(fields.String()), metadata={"description": "[serial, reason] pairs"}
    )
    targets = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(TargetResultSchema),
        metadata={"description": "per target (user:<id>, team:<id> or pool, as in targets)"},
    )


def _summary(plan, name):
    return (plan.params or {}).get("summary", {}).get(name)


class PlanSchema(Schema):
    id = fields.Integer()
    strategy = fields.String(metadata={"enum": list(service.STRATEGY_TITLES)})
    basis = fields.Function(lambda p: _summary(p, "basis"), metadata={"type": "string"})
    created_at = fields.DateTime()
    committed_at = fields.DateTime(allow_none=True)
    total = fields.Function(
        lambda p: TotalSchema().dump(_summary(p, "total") or {}),
        metadata={"type": "object"},
    )
    targets = fields.Function(
        lambda p: PlanRowSchema(many=True).dump(_summary(p, "rows") or []),
        metadata={"type": "array", "items": {"type": "object"}},
    )
    left_out = fields.Function(
        lambda p: _summary(p, "left_out") or {},
        metadata={"type": "object", "description": "reason → cases"},
    )
    result = fields.Function(
        lambda p: ResultSchema().dump(p.params["result"]) if p.params.get("result") else None,
        metadata={"type": "object", "nullable": True},
    )


class CommitSchema(Schema):
    plan = fields.Nested(PlanSchema)
    job = fields.Nested(JobSchema, allow_none=True)


def _choice(scope, data) -> service.Choice:
    if "case_ids" in data:
        return service.Choice(case_ids=data["case_ids"])
    case_filter = CaseFilter.from_args(data["filter"])
    if case_filter.errors:
        raise InvalidInput(
            _("Some fields are not valid; see the messages by field."),
            fields={"filter": case_filter.errors},
        )
    if case_filter.contract is not None and case_filter.contract not in scope.contract_ids:
        raise NotFound(_("There is no contract %(id)d with collection.", id=case_filter.contract))
    holder = data.get("holder")
    holder = int(holder) if holder and holder.isdigit() else holder
    return service.Choice(case_filter=case_filter, holder=holder)


def _commit(plan) -> dict:
    if service.needs_job(plan):
        db.session.commit()
        job = service.start_commit_job(plan, current_user)
        return {"plan": db.session.get(type(plan), plan.id), "job": status(job)}
    service.commit_plan(plan, current_user)
    db.session.commit()
    return {"plan": plan, "job": None}


@collection_api.route("/allocation/plans", methods=["POST"])
@endpoint(
    permission=PERMISSION,
    body=PreviewSchema,
    response=PlanSchema,
    status=201,
    summary="Preview an allocation strategy's plan",
    tag=TAG,
)
def preview_plan(data):
    """Nothing changes yet: the plan says, per collector or team, the cases and money before
    and after. Commit it with ``/allocation/plans/{id}/commit``."""
    scope = service.scope_for(current_user)
    plan = service.preview(
        current_user,
        data["strategy"],
        _choice(scope, data),
        collectors=data["collectors"],
        areas=data["areas"],
        area_mode=data["area_mode"],
        basis=data["basis"],
        reason=data["reason"],
    )
    db.session.commit()
    return plan


@collection_api.route("/allocation/plans/<int:plan_id>")
@endpoint(permission=PERMISSION, response=PlanSchema, summary="Read an allocation plan", tag=TAG)
def get_plan(plan_id):
    """Your own plans only; a committed plan carries its ``result``."""
    return service.own_plan(plan_id, current_user)


@collection_api.route("/allocation/plans/<int:plan_id>/commit", methods=["POST"])
@endpoint(
    permission=PERMISSION, response=CommitSchema, summary="Commit an allocation plan", tag=TAG
)
def commit_plan(plan_id):
    """Applies the plan as previewed; 409 if it was committed already. A case assigned again
    since the preview, or refused by a rule, is skipped and reported in ``result``. A plan of
    more cases than the inline limit is committed by a job: ``job`` is then set; poll
    ``/allocation/jobs/{job_id}``."""
    return _commit(service.own_plan(plan_id, current_user))


@collection_api.route("/allocation/jobs/<job_id>")
@endpoint(
    permission=PERMISSION, response=JobSchema, summary="An allocation commit's progress", tag=TAG
)
def allocation_job(job_id):
    job = own_job(job_id, current_user, service.ALLOCATION_JOB)
    if job is None:
        raise NotFound(_("There is no such job."))
    return status(job)


@collection_api.route("/allocation/assign", methods=["POST"])
@endpoint(
    permission=PERMISSION,
    body=AssignSchema,
    response=CommitSchema,
    summary="Give cases to a collector or a team's pool (分案, 调案)",
    tag=TAG,
)
def assign_cases(data):
    """Committed at once (a job past the inline limit). A collector who is not a member of a
    case's contract is refused (422) naming the contract."""
    scope = service.scope_for(current_user)
    plan = service.plan_direct(
        current_user,
        _choice(scope, data),
        collector=data.get("user_id"),
        team=data.get("team_id"),
        reason=data["reason"],
    )
    return _commit(plan)


@collection_api.route("/allocation/recall", methods=["POST"])
@endpoint(
    permission=PERMISSION,
    body=RecallSchema,
    response=CommitSchema,
    summary="Recall cases to the pool",
    tag=TAG,
)
def recall_cases(data):
    """Nobody holds them afterwards; a team leader's recall returns them to their team's pool."""
    scope = service.scope_for(current_user)
    plan = service.plan_direct(current_user, _choice(scope, data), reason=data["reason"])
    return _commit(plan)
