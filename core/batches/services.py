"""The rules for batches (委案批次) and the category options an admin defines (类别设置).

Services flush and audit; the caller commits.
"""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select

from core.audit.services import record, record_saved
from core.batches.models import IMPORTED, NOT_IMPORTED, Batch, CategoryOption
from core.cases.models import Case
from core.clients.models import Contract
from core.clients.services import visible_contracts_query
from core.errors import Conflict, UserError
from core.extensions import db

#: The option lists of the category settings page: kind → title.
AREA, CASE_CATEGORY = "area", "case_category"
CATEGORY_KINDS = {AREA: _l("Collection area"), CASE_CATEGORY: _l("Case category")}

BATCH_STATUSES = {NOT_IMPORTED: _l("not imported"), IMPORTED: _l("imported")}


# -- category options -------------------------------------------------------------------------


def _check_kind(kind: str) -> None:
    if kind not in CATEGORY_KINDS:
        raise UserError(_("Unknown option list %(kind)s.", kind=kind))


def category_options(kind: str, *, active_only: bool = False) -> list[CategoryOption]:
    query = select(CategoryOption).filter_by(kind=kind)
    if active_only:
        query = query.filter_by(active=True)
    return list(db.session.scalars(query.order_by(CategoryOption.position, CategoryOption.id)))


def _clean_value(value: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise UserError(_("An option needs a name."), fields={"value": [_("Required.")]})
    if len(value) > CategoryOption.value.type.length:
        raise UserError(
            _("An option name is at most %(n)d characters.", n=CategoryOption.value.type.length),
            fields={"value": [_("Too long.")]},
        )
    return value


def _unique_option(kind: str, value: str, exclude_id: int | None = None) -> None:
    query = select(CategoryOption.id).where(
        CategoryOption.kind == kind, func.lower(CategoryOption.value) == value.lower()
    )
    if exclude_id is not None:
        query = query.where(CategoryOption.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise Conflict(
            _("The option %(value)s exists already.", value=value),
            fields={"value": [_("Already in use.")]},
        )


def add_option(kind: str, value: str, *, actor) -> CategoryOption:
    """Add an option at the end of its list."""
    _check_kind(kind)
    value = _clean_value(value)
    _unique_option(kind, value)
    last = db.session.scalar(
        select(func.max(CategoryOption.position)).where(CategoryOption.kind == kind)
    )
    option = CategoryOption(kind=kind, value=value, position=(last or 0) + 1, active=True)
    return record_saved(
        option, "category.added", user=actor, details={"kind": kind, "value": value}
    )


def rename_option(option: CategoryOption, value: str, *, actor) -> CategoryOption:
    """Rename an option; batches and cases keep the name they were given."""
    value = _clean_value(value)
    _unique_option(option.kind, value, option.id)
    old, option.value = option.value, value
    record("category.renamed", obj=option, user=actor, details={"from": old, "to": value})
    db.session.flush()
    return option


def move_option(option: CategoryOption, direction: str, *, actor) -> None:
    """Swap an option with its neighbour above (``"up"``) or below (``"down"``)."""
    if direction not in ("up", "down"):
        raise UserError(_("Move an option up or down."))
    options = category_options(option.kind)
    for position, each in enumerate(options, start=1):  # renumber: positions may have gaps
        each.position = position
    index = options.index(option)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(options):
        options[index].position, options[other].position = (
            options[other].position,
            options[index].position,
        )
        record("category.moved", obj=option, user=actor, details={"direction": direction})
    db.session.flush()


def set_option_active(option: CategoryOption, active: bool, *, actor) -> None:
    """A deactivated option is no longer offered; what already carries it keeps it."""
    option.active = active
    action = "category.activated" if active else "category.deactivated"
    record(action, obj=option, user=actor, details={"value": option.value})
    db.session.flush()


# -- batches ----------------------------------------------------------------------------------


def visible_batches_query(user):
    """``select(Batch)`` narrowed to the contracts ``user`` may see."""
    contract_ids = visible_contracts_query(user).with_only_columns(Contract.id).order_by(None)
    return select(Batch).where(Batch.contract_id.in_(contract_ids))


def case_count(batch: Batch) -> int:
    return db.session.scalar(select(func.count()).select_from(Case).filter_by(batch_id=batch.id))


def _check_option(kind: str, value: str, current: str, field: str) -> None:
    """``value`` must be an active option of ``kind`` (or the value the batch already has)."""
    if not value or value == current:
        return
    offered = {option.value for option in category_options(kind, active_only=True)}
    if value not in offered:
        raise UserError(
            _("%(value)s is not an option of the category settings.", value=value),
            fields={field: [_("Choose one of the options.")]},
        )


def save_batch(
    batch: Batch | None,
    *,
    contract: Contract | None,
    batch_no: str,
    entrust_date: date | None,
    expected_return_date: date | None = None,
    area: str = "",
    case_category: str = "",
    notes: str = "",
    actor,
) -> Batch:
    """Create (``batch=None``) or change a batch after checking every field at once."""
    batch_no = (batch_no or "").strip()
    area, case_category = (area or "").strip(), (case_category or "").strip()
    errors: dict[str, list[str]] = {}
    if contract is None:
        errors["contract"] = [_("Required.")]
    if not batch_no:
        errors["batch_no"] = [_("Required.")]
    elif len(batch_no) > Batch.batch_no.type.length:
        errors["batch_no"] = [_("Too long.")]
    if entrust_date is None:
        errors["entrust_date"] = [_("Required.")]
    elif expected_return_date is not None and expected_return_date < entrust_date:
        errors["expected_return_date"] = [_("Must not be before the entrust date.")]
    moved = batch is not None and contract is not None and contract.id != batch.contract_id
    if moved and case_count(batch):
        errors["contract"] = [_("A batch that holds cases stays under its contract.")]
    if errors:
        first = next(iter(errors.values()))[0]
        if "expected_return_date" in errors and len(errors) == 1:
            first = _("The expected return date is before the entrust date.")
        raise UserError(
            first if len(errors) == 1 else _("Correct the marked fields."), fields=errors
        )
    _check_option(AREA, area, batch.area if batch else "", "area")
    _check_option(
        CASE_CATEGORY, case_category, batch.case_category if batch else "", "case_category"
    )
    same = select(Batch.id).where(
        Batch.contract_id == contract.id, func.lower(Batch.batch_no) == batch_no.lower()
    )
    if batch is not None:
        same = same.where(Batch.id != batch.id)
    if db.session.scalar(same) is not None:
        raise Conflict(
            _(
                "Batch %(no)s exists already under contract %(contract)s.",
                no=batch_no,
                contract=contract.number,
            ),
            fields={"batch_no": [_("Already in use in this contract.")]},
        )
    created = batch is None
    if created:
        batch = Batch(status=NOT_IMPORTED, serial_seq=0, created_by_id=actor.id if actor else None)
    batch.contract = contract
    batch.contract_id = contract.id
    batch.batch_no, batch.entrust_date = batch_no, entrust_date
    batch.expected_return_date = expected_return_date
    batch.area, batch.case_category, batch.notes = area, case_category, notes or ""
    action = "batch.created" if created else "batch.updated"
    return record_saved(
        batch, action, user=actor, details={"batch_no": batch_no, "contract": contract.number}
    )


def delete_batch(batch: Batch, *, actor) -> list[str]:
    """Delete a batch that holds no cases; one that holds cases is refused (409).

    Takes the batch's import lock first, so a commit still running into the batch either
    finishes before the check or starts after the batch is gone. Returns the stored upload
    files of the batch's imports: the caller removes them once the deletion is committed.
    """
    from core.imports.models import ImportRun
    from core.imports.services import lock_batch

    lock_batch(batch.id)
    count = case_count(batch)
    if count:
        raise Conflict(
            _(
                "Batch %(no)s holds %(count)d cases and cannot be deleted.",
                no=batch.batch_no,
                count=count,
            )
        )
    record(
        "batch.deleted",
        obj=batch,
        user=actor,
        details={"batch_no": batch.batch_no, "contract": batch.contract.number},
    )
    # Uploads and dry runs of a batch that never received a case go with it.
    uploads = list(
        db.session.scalars(select(ImportRun.stored_name).where(ImportRun.batch_id == batch.id))
    )
    db.session.execute(delete(ImportRun).where(ImportRun.batch_id == batch.id))
    db.session.delete(batch)
    db.session.flush()
    return uploads
