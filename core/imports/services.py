"""The import pipeline: upload → mapping → dry run → commit, for every kind.

- :func:`start_import` stores the upload under a random name, checks it
  (:mod:`core.imports.reading`), finds the header row and maps the columns
  (:mod:`core.imports.mapping`), and creates the :class:`ImportRun`.
- :func:`set_mapping` records the user's corrections and saves them for the client.
- :func:`process` reads the whole file once, normalises each row with the kind's compiled
  schema (a chunk ahead, in a worker thread, while the previous chunk is written), matches rows to cases with one query per chunk and key, and hands each chunk to
  the kind's ``apply``. A dry run writes nothing but the run's report.
- :func:`commit` is :func:`process` in one transaction that first takes the batch's import
  lock (PostgreSQL advisory lock; SQLite ``BEGIN IMMEDIATE``), so two imports into one batch
  run one after the other and a killed import leaves nothing behind. All-or-nothing unless
  the user chose to skip invalid rows.

Rows in = rows stored + rows rejected: every non-empty row below the header is counted as
created, updated, unchanged (already there; nothing to do) or rejected, and :func:`process`
asserts it. Unmatched rows are rejected rows whose reason is that no case matches.
"""

from __future__ import annotations

import contextvars
import hashlib
import io
import queue
import secrets
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError

from core.audit.services import record
from core.batches.models import IMPORTED, Batch
from core.cases.models import Case
from core.clients.models import Contract
from core.errors import Conflict, InvalidInput, NotFound, UserError
from core.extensions import db
from core.imports import bulk, normalise
from core.imports.kinds import MATCH_KEYS, ImportKind, Row
from core.imports.mapping import (
    SCAN_ROWS,
    auto_map,
    check_mapping,
    detect_header,
    save_mapping,
    saved_mapping,
)
from core.imports.models import ImportRun
from core.imports.reading import FileRejected, FileTooLarge, open_table, sniff
from core.imports.schemas import RowLoader
from core.migrate import refresh_statistics
from core.plugins import hooks_for, registry
from core.types import utcnow

#: Rows handed to a kind's ``apply`` at a time: large enough for set-based queries and
#: bulk inserts to pay off (one duplicate query per chunk), small enough to keep memory flat
#: (a chunk of normalised rows is a few MB).
CHUNK_ROWS = 5000
#: ImportRun.status values.
UPLOADED, VALIDATED, COMMITTED, FAILED = "uploaded", "validated", "committed", "failed"
#: How many rows the preview shows.
PREVIEW_ROWS = 10
#: Key class of the PostgreSQL advisory lock taken on a batch id ("MI", Maple import).
LOCK_CLASS = 0x4D49


# -- kinds --------------------------------------------------------------------------------------


def all_kinds() -> dict[str, ImportKind]:
    return registry().import_kinds


def offered_kinds(contract: Contract) -> list[ImportKind]:
    """The kinds a batch of ``contract`` accepts: the core's, and those of modules it has on."""
    modules, enabled = registry().modules, contract.enabled_modules
    return [
        kind
        for kind in all_kinds().values()
        if kind.plugin not in modules or kind.plugin in enabled
    ]


def kind_for(contract: Contract, name: str) -> ImportKind:
    for kind in offered_kinds(contract):
        if kind.name == name:
            return kind
    raise NotFound(_("There is no import kind %(name)s for this contract.", name=name))


# -- upload --------------------------------------------------------------------------------------


def upload_path(stored_name: str) -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / stored_name


def remove_uploads(stored_names) -> None:
    """Delete stored upload files (personal data) whose import runs are gone."""
    for name in stored_names:
        upload_path(name).unlink(missing_ok=True)


def _store(stream, file_name: str) -> tuple[str, Path, str]:
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(file_name).suffix.lower()[:8]
    stored_name = secrets.token_hex(16) + (suffix if suffix.isascii() else "")
    path = folder / stored_name
    digest = hashlib.sha256()
    with path.open("wb") as out:
        while block := stream.read(1 << 20):
            digest.update(block)
            out.write(block)
    return stored_name, path, digest.hexdigest()


def start_import(batch: Batch, kind_name: str, stream, file_name: str, user) -> ImportRun:
    """Store and check an upload, detect its header and mapping; flush the new run.

    A file that fails a check is deleted and nothing is stored (the error is a 4xx).
    """
    kind = kind_for(batch.contract, kind_name)
    file_name = Path(file_name or "upload").name[:255] or "upload"
    stored_name, path, file_hash = _store(stream, file_name)
    try:
        fmt = sniff(path, file_name)
        normalise.MAX_CELL_LENGTH = int(current_app.config["IMPORT_MAX_CELL_LENGTH"])
        table = _open(stored_name, fmt)
        head = table.head(SCAN_ROWS + 1)
        if not head:
            raise FileRejected(_("The file holds no rows."))
        try:
            index, headers = detect_header(head, kind.schema, table.merged)
        except LookupError as error:
            raise FileRejected(str(error)) from None
        for header in headers:
            if len(header) > 200:
                raise FileRejected(_("A header cell is longer than 200 characters."))
    except BaseException:
        _last_table.pop(stored_name, None)
        path.unlink(missing_ok=True)
        raise
    saved = saved_mapping(batch.contract.client_id, kind.name)
    mapping = auto_map(headers, kind.schema, saved)
    run = ImportRun(
        batch_id=batch.id,
        kind=kind.name,
        file_name=file_name,
        stored_name=stored_name,
        file_hash=file_hash,
        status=UPLOADED,
        header_row=index + 1,
        columns={
            "format": fmt,
            "headers": headers,
            "mapping": mapping,
            "hidden": sorted(c for c in table.hidden if c < len(headers)),
            "saved_mapping_used": bool(saved),
        },
        match_key=detect_key(mapping) if kind.matches else "",
        report={},
        created_by_id=user.id if user else None,
    )
    db.session.add(run)
    db.session.flush()
    previous = committed_twin(run)
    if previous is not None:
        run.report = {"duplicate_of": _twin_summary(previous)}
    record(
        "import.uploaded",
        obj=run,
        user=user,
        details={"batch": batch.id, "kind": kind.name, "file_hash": file_hash, "format": fmt},
    )
    return run


def start_import_from_path(batch: Batch, kind_name: str, source: Path, user) -> ImportRun:
    with Path(source).open("rb") as stream:
        return start_import(batch, kind_name, stream, Path(source).name, user)


def committed_twin(run: ImportRun) -> ImportRun | None:
    """An earlier committed import of the same file, kind and batch."""
    return db.session.scalar(
        select(ImportRun)
        .where(
            ImportRun.batch_id == run.batch_id,
            ImportRun.kind == run.kind,
            ImportRun.file_hash == run.file_hash,
            ImportRun.status == COMMITTED,
            ImportRun.id != run.id,
        )
        .order_by(ImportRun.id)
        .limit(1)
    )


def _twin_summary(previous: ImportRun) -> dict:
    return {
        "run": previous.id,
        "file_name": previous.file_name,
        "committed_at": previous.committed_at.isoformat() if previous.committed_at else "",
    }


def detect_key(mapping: list[str]) -> str:
    """The first matching key whose columns are all mapped, or ""."""
    mapped = set(mapping)
    for key, (needed, _title) in MATCH_KEYS.items():
        if all(name in mapped for name in needed):
            return key
    return ""


def set_mapping(
    run: ImportRun, mapping: list[str], *, match_key: str = "", skip_invalid: bool = False
) -> None:
    """Record the user's mapping (and key), checked, and save it for the client and kind."""
    kind = kind_for(run.batch.contract, run.kind)
    headers = run.columns["headers"]
    if len(mapping) != len(headers):
        raise UserError(_("The mapping does not fit the file's columns."))
    problems = check_mapping(mapping, headers, kind.schema)
    if kind.matches:
        match_key = match_key or detect_key(mapping)
        if match_key not in MATCH_KEYS:
            problems.setdefault("match_key", []).append(
                _("Map the columns of a matching key: 个案序列号, 档案号, 卡号 + 委案日期 or "
                  "证件号 + 委案日期.")
            )  # fmt: skip
        else:
            for name in MATCH_KEYS[match_key][0]:
                if name not in mapping:
                    field = kind.schema.cells()[name]
                    problems.setdefault("match_key", []).append(
                        _("The key needs the column %(header)s.", header=field.header)
                    )
    if problems:
        raise InvalidInput(_("The mapping needs correcting."), fields=problems)
    columns = dict(run.columns)
    columns["mapping"] = list(mapping)
    run.columns = columns
    run.match_key = match_key if kind.matches else ""
    run.skip_invalid = bool(skip_invalid)
    save_mapping(run.batch.contract.client_id, run.kind, headers, mapping)
    db.session.flush()


def preview(run: ImportRun, count: int = PREVIEW_ROWS) -> list[dict]:
    """The first rows as mapped: row number, the values read and any problems."""
    kind = kind_for(run.batch.contract, run.kind)
    table = _open(run.stored_name, run.columns["format"])
    loader = _loader(kind, run)
    rows = []
    for number, raw in enumerate(table.rows(), start=1):
        if number <= run.header_row or not _has_values(raw):
            continue
        data, errors = loader.load(raw)
        rows.append({"number": number, "data": data, "errors": errors or []})
        if len(rows) >= count:
            break
    return rows


#: The last file opened, kept so the upload's parse serves the dry run or commit that
#: follows it in the same process (the command line; a small file on the web).
_last_table: dict[str, object] = {}


def _open(stored_name: str, fmt: str):
    table = _last_table.get(stored_name)
    if table is None:
        table = open_table(upload_path(stored_name), fmt)
        _last_table.clear()
        _last_table[stored_name] = table
    return table


def forget_table() -> None:
    _last_table.clear()


def _loader(kind: ImportKind, run: ImportRun) -> RowLoader:
    mapping = run.columns["mapping"]
    columns = {index: name for index, name in enumerate(mapping) if name}
    return RowLoader(kind.schema, columns, run.columns["headers"])


def _has_values(raw) -> bool:
    for value in raw:
        if value != "" and value is not None:
            return True
    return False


# -- processing ------------------------------------------------------------------------------------


@dataclass
class ImportContext:
    """What a kind's ``apply`` sees: the run, where it goes, and how to report each row."""

    run: ImportRun
    kind: ImportKind
    batch: Batch
    contract: Contract
    user: object
    dry_run: bool
    loader: RowLoader
    match_key: str
    mapped: set
    #: Anything a kind keeps from one chunk to the next (serials seen so far …).
    state: dict = field(default_factory=dict)
    new_case_ids: list = field(default_factory=list)
    counts: dict = field(
        default_factory=lambda: dict.fromkeys(
            ("rows_read", "created", "updated", "unchanged", "rejected", "unmatched"), 0
        )
    )
    #: [row number, column header, reason], in file order per chunk.
    errors: list = field(default_factory=list)
    _serial: dict = field(default_factory=dict)

    def created(self, row: Row) -> None:
        self.counts["created"] += 1

    def updated(self, row: Row) -> None:
        self.counts["updated"] += 1

    def unchanged(self, row: Row) -> None:
        self.counts["unchanged"] += 1

    def reject(self, row: Row | int, field_name: str, reason: str, *, unmatched=False) -> None:
        number = row if isinstance(row, int) else row.number
        column = self.loader.header_of.get(field_name, field_name) if field_name else ""
        self.errors.append([number, str(column), str(reason)])
        self.counts["rejected"] += 1
        if unmatched:
            self.counts["unmatched"] += 1

    def load_cases(self, case_ids) -> dict[int, Case]:
        """The ORM cases of ``case_ids``, loaded in one query per 900 ids."""
        found: dict[int, Case] = {}
        ids = sorted(set(case_ids))
        for start in range(0, len(ids), 900):
            part = ids[start : start + 900]
            for case in db.session.scalars(select(Case).where(Case.id.in_(part))):
                found[case.id] = case
        return found

    def batch_numbers(self, batch_ids) -> dict[int, str]:
        if not batch_ids:
            return {}
        query = select(Batch.id, Batch.batch_no).where(Batch.id.in_(list(batch_ids)))
        return {key: value for key, value in db.session.execute(query)}

    def next_serial(self) -> str:
        """The batch's next generated serial: client code + batch ordinal + sequence.

        The ordinal is the batch's position among the client's batches in creation order
        (江苏中行's first batch → ``JSZ1``). The sequence continues from ``Batch.serial_seq``
        and from the highest serial already issued under the prefix, so a prefix that an
        earlier batch used (a batch deleted in between) never yields a duplicate.
        """
        if not self._serial:
            client = self.contract.client
            ordinal = db.session.scalar(
                select(func.count(Batch.id))
                .join(Contract, Contract.id == Batch.contract_id)
                .where(Contract.client_id == client.id, Batch.id <= self.batch.id)
            )
            prefix = f"{client.code}{ordinal}-"
            issued = db.session.scalars(
                select(Case.serial).where(Case.serial.like(prefix.replace("_", r"\_") + "%",
                                                           escape="\\"))
            )  # fmt: skip
            highest = max(
                (int(s[len(prefix) :]) for s in issued if s[len(prefix) :].isdigit()), default=0
            )
            self._serial = {"prefix": prefix, "seq": max(self.batch.serial_seq or 0, highest)}
        self._serial["seq"] += 1
        return f"{self._serial['prefix']}{self._serial['seq']:06d}"

    @property
    def serial_seq(self) -> int | None:
        return self._serial.get("seq")

    def report(self) -> dict:
        return {**self.counts, "errors": self.errors, "dry_run": self.dry_run}


def _match(ctx: ImportContext, rows: list[Row]) -> list[Row]:
    """Find each row's case among the contract's cases with one query per 900 keys."""
    fields = MATCH_KEYS[ctx.match_key][0]
    keyed: list[tuple[Row, tuple]] = []
    for row in rows:
        key = tuple(row.data[name] for name in fields)
        missing = [name for name, value in zip(fields, key, strict=True) if value is None]
        if missing:
            ctx.reject(row, missing[0], _("Needed to find the case; the cell is empty."))
            continue
        keyed.append((row, key))
    first = getattr(Case, fields[0])
    columns = [getattr(Case, name) for name in fields]
    found: dict[tuple, list[int]] = {}
    values = sorted({key[0] for _row, key in keyed})
    if values:
        # One query per chunk; the contract is checked here so that the key's index drives
        # the query (see bulk.in_values).
        query = select(Case.id, Case.contract_id, *columns).where(bulk.in_values(first, values))
        contract_id = ctx.contract.id
        for case_id, owner, *key in db.session.execute(query):
            if owner == contract_id:
                found.setdefault(tuple(key), []).append(case_id)
    matched = []
    for row, key in keyed:
        ids = found.get(key)
        if not ids:
            ctx.reject(row, fields[0], _no_match_message(ctx.match_key), unmatched=True)
        elif len(ids) > 1:
            ctx.reject(
                row,
                fields[0],
                _("%(n)d cases match; use a key that names one case.", n=len(ids)),
                unmatched=True,
            )
        else:
            row.case_id = ids[0]
            matched.append(row)
    return matched


def _no_match_message(key: str) -> str:
    return {
        "serial": _("No case of this contract has this serial no."),
        "archive_no": _("No case of this contract has this archive no."),
        "card_date": _("No case of this contract has this card no. and entrust date."),
        "id_date": _("No case of this contract has this ID no. and entrust date."),
    }[key]


def process(
    run: ImportRun,
    *,
    dry_run: bool,
    user=None,
    progress: Callable[[int, int], None] | None = None,
    skip_invalid: bool | None = None,
) -> ImportContext:
    """Read the run's file and validate (and unless ``dry_run``, store) every row.

    Under all-or-nothing, once a row is rejected the remaining rows are still checked (so
    the report is complete) but no longer written; the caller rolls back.
    """
    batch = run.batch
    contract = batch.contract
    kind = kind_for(contract, run.kind)
    skip_invalid = run.skip_invalid if skip_invalid is None else skip_invalid
    if kind.matches and run.match_key not in MATCH_KEYS:
        raise UserError(_("Choose how rows find their case (the matching key)."))
    problems = check_mapping(run.columns["mapping"], run.columns["headers"], kind.schema)
    if problems:
        raise InvalidInput(_("The mapping needs correcting."), fields=problems)
    normalise.MAX_CELL_LENGTH = int(current_app.config["IMPORT_MAX_CELL_LENGTH"])
    max_rows = int(current_app.config["IMPORT_MAX_ROWS"])
    table = _open(run.stored_name, run.columns["format"])
    loader = _loader(kind, run)
    ctx = ImportContext(
        run=run, kind=kind, batch=batch, contract=contract, user=user, dry_run=dry_run,
        loader=loader, match_key=run.match_key, mapped=set(filter(None, run.columns["mapping"])),
    )  # fmt: skip
    total = max(table.height - run.header_row, 0)
    counts = ctx.counts
    if progress:
        progress(0, total)
    # The file is read and its rows normalised one chunk ahead, in a worker thread, while
    # this thread (the transaction's) matches and writes the chunk before; see _prefetch.
    chunks = _loaded_chunks(table, run.header_row, loader.load, max_rows)
    # closing(): an error here stops and joins the worker at once.
    with closing(_prefetch(chunks)) as loaded:
        for chunk in loaded:
            counts["rows_read"] += chunk.rows_read
            counts["rejected"] += chunk.rejected
            ctx.errors.extend(chunk.errors)
            if chunk.rows:
                if not dry_run and not skip_invalid and counts["rejected"]:
                    ctx.dry_run = True  # nothing will be kept: only check the rest
                rows = _match(ctx, chunk.rows) if kind.matches else chunk.rows
                if rows:
                    kind.apply(ctx, rows)
            if progress:
                progress(chunk.done, total)
    if progress:
        progress(total, total)
    accounted = counts["created"] + counts["updated"] + counts["unchanged"] + counts["rejected"]
    assert counts["rows_read"] == accounted, f"rows in {counts['rows_read']} ≠ out {accounted}"
    ctx.errors.sort(key=lambda error: error[0])
    return ctx


@dataclass(slots=True)
class _Chunk:
    """Rows read and normalised, ready to be matched and stored, with what came before them."""

    #: Rows that passed normalisation and validation (at most CHUNK_ROWS).
    rows: list[Row]
    #: Non-empty rows read for this chunk (passed or not).
    rows_read: int
    #: Rows rejected by normalisation, and their [row, column, reason] errors.
    rejected: int
    errors: list[list]
    #: Rows of the file (below the header) read so far, for progress.
    done: int


def _loaded_chunks(table, header_row: int, load, max_rows: int):
    """The file's data rows, normalised (``load``), in chunks of CHUNK_ROWS good rows.

    Pure Python on the parsed file: it touches no database, so it can run in a worker
    thread (see :func:`_prefetch`).
    """
    merges = _data_merges(table.merged, header_row)
    chunk, errors = [], []
    rejected = read = done = total_read = 0
    for number, raw in enumerate(table.rows(), start=1):
        if number <= header_row:
            continue
        done = number - header_row
        if merges:
            raw = _fill_merged(raw, number - 1, merges)
        if not _has_values(raw):
            continue
        read += 1
        total_read += 1
        if total_read > max_rows:
            raise FileTooLarge(_("The file has more than %(max)d rows.", max=max_rows))
        data, row_errors = load(raw)
        if row_errors:
            rejected += 1
            errors.extend([number, column, reason] for column, reason in row_errors)
            continue
        chunk.append(Row(number, data))
        if len(chunk) >= CHUNK_ROWS:
            yield _Chunk(chunk, read, rejected, errors, done)
            chunk, errors, rejected, read = [], [], 0, 0
    if chunk or read:
        yield _Chunk(chunk, read, rejected, errors, done)


#: How long the worker waits to hand over a chunk before checking whether it should stop.
_HANDOVER_SECONDS = 0.5
#: Python's GIL switch interval while an import's worker runs (the default is 5 ms). The
#: transaction's thread gives up the GIL at every wait on the database (each COPY buffer
#: sent, each query) and, with the worker busy, waited up to the interval to get it back.
IMPORT_SWITCH_INTERVAL = 0.0005
_switching = {"imports": 0, "previous": None}
_switching_lock = threading.Lock()


@contextmanager
def _short_switch_interval():
    """The GIL switch interval at most IMPORT_SWITCH_INTERVAL while any import reads ahead."""
    with _switching_lock:
        if _switching["imports"] == 0:
            _switching["previous"] = sys.getswitchinterval()
            sys.setswitchinterval(min(_switching["previous"], IMPORT_SWITCH_INTERVAL))
        _switching["imports"] += 1
    try:
        yield
    finally:
        with _switching_lock:
            _switching["imports"] -= 1
            if _switching["imports"] == 0:
                sys.setswitchinterval(_switching["previous"])


def _prefetch(items):
    """Iterate ``items`` (a generator) in a worker thread, one item ahead of the caller.

    The import's database work stays in the calling thread, in its transaction and in
    order; the worker only produces the next chunk meanwhile. psycopg and sqlite3 release
    the GIL while the database works (PostgreSQL's server digests a COPY in its own process),
    so normalising chunk N+1 overlaps storing chunk N. The worker runs in a copy of the
    caller's context (the Flask app and the forced locale its messages use). An exception
    in the worker is raised here, in the caller; if the caller stops early (its own
    exception), the worker is told to stop and joined.
    """
    handover: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    end = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handover.put(item, timeout=_HANDOVER_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as error:  # noqa: BLE001 (handed to the caller, raised there)
            put((end, error))
            return
        put((end, None))

    worker = threading.Thread(
        target=contextvars.copy_context().run, args=(produce,), name="maple-import-read",
        daemon=True,
    )  # fmt: skip
    with _short_switch_interval():
        yield from _take(handover, worker, stop, end)


def _take(handover: queue.Queue, worker: threading.Thread, stop: threading.Event, end):
    worker.start()
    try:
        while True:
            item, error = handover.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stop.set()
        worker.join()


def _data_merges(merged, header_row: int) -> dict[int, list]:
    """Merged ranges below the header, by the row they start on (0-based)."""
    found: dict[int, list] = {}
    for (r0, c0), (r1, c1) in merged:
        if r0 >= header_row and (r1 > r0 or c1 > c0):
            found.setdefault(r0, []).append((r0, c0, r1, c1))
    return found


def _fill_merged(raw, index: int, merges: dict) -> list:
    """Give every cell of a merged range the value of its top-left cell."""
    active = merges.setdefault("active", [])
    for r0, c0, r1, c1 in merges.get(index, ()):
        active.append((r1, c0, c1, raw[c0] if c0 < len(raw) else ""))
    if not active:
        return raw
    raw = list(raw)
    for r1, c0, c1, value in active:
        if len(raw) <= c1:
            raw.extend([""] * (c1 + 1 - len(raw)))
        for column in range(c0, c1 + 1):
            raw[column] = value
    merges["active"] = [item for item in active if item[0] > index]
    return raw


# -- dry run and commit ----------------------------------------------------------------------------


def _locale(user):
    from flask_babel import force_locale

    locale = getattr(user, "locale", None) or current_app.config["BABEL_DEFAULT_LOCALE"]
    return force_locale(locale)


def dry_run(run: ImportRun, *, user=None, progress=None) -> dict:
    """Validate every row and store the report on the run; change nothing else. Commits."""
    with _locale(user):
        try:
            ctx = process(run, dry_run=True, user=user, progress=progress)
        except UserError as error:
            db.session.rollback()
            return _fail(run, error.message, user)
        report = ctx.report()
        report["message"] = _summary(report, dry_run=True)
        previous = committed_twin(run)
        if previous is not None:
            report["duplicate_of"] = _twin_summary(previous)
        # A commit of this run that finished meanwhile keeps its status and report.
        db.session.execute(
            update(ImportRun)
            .where(ImportRun.id == run.id, ImportRun.status != COMMITTED)
            .values(report=report, status=VALIDATED)
        )
        db.session.commit()
        db.session.expire(run)
        return report


def _fail(run: ImportRun, message: str, user, report: dict | None = None) -> dict:
    run = db.session.get(ImportRun, run.id)
    report = dict(report or run.report or {})
    report["message"] = message
    if run.status == COMMITTED:  # a late dry run's failure does not undo a commit
        return report
    run.report, run.status = report, FAILED
    db.session.commit()
    return report


def lock_batch(batch_id: int, *, progress=None) -> None:
    """Serialise imports into one batch: taken first in the commit's transaction.

    PostgreSQL: a transaction-level advisory lock on (LOCK_CLASS, batch id). SQLite: the
    database's write lock, taken up front with ``BEGIN IMMEDIATE`` and retried (beyond the
    connection's busy timeout) until IMPORT_LOCK_WAIT_SECONDS, so a user never sees
    "database is locked" but a plain message.
    """
    wait = int(current_app.config["IMPORT_LOCK_WAIT_SECONDS"])
    busy = Conflict(
        _("Another import into this batch is still running; try again in a few minutes.")
    )
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SET LOCAL lock_timeout = '{wait}s'"))
        try:
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": LOCK_CLASS, "b": batch_id}
            )
        except OperationalError:
            db.session.rollback()
            raise busy from None
        connection.execute(text("SET LOCAL lock_timeout = 0"))
        return
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.dbapi_connection
    deadline = time.monotonic() + wait
    while not raw.in_transaction:
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if time.monotonic() > deadline:
                raise busy from None
            time.sleep(0.2)


def rejected_rows_refusal(rejected: int, skip_invalid: bool) -> str:
    """Why all-or-nothing refuses a commit with ``rejected`` rows, or "" when it may go on."""
    if rejected and not skip_invalid:
        return _(
            "Nothing was imported: %(n)d rows were rejected. Correct them, or choose to "
            "skip invalid rows.",
            n=rejected,
        )
    return ""


def check_ready_to_commit(run: ImportRun, *, skip_invalid: bool) -> None:
    """Refuse (409) a commit the dry run says cannot succeed: no dry run yet, or rejected
    rows while the user did not choose to skip invalid rows (the rule :func:`commit` applies).
    """
    if run.status == COMMITTED:
        raise Conflict(_("This import was committed already."))
    if run.status != VALIDATED:
        raise Conflict(_("Check the file with a dry run before importing it."))
    refusal = rejected_rows_refusal((run.report or {}).get("rejected", 0), skip_invalid)
    if refusal:
        raise Conflict(refusal)


def check_idle(run: ImportRun) -> None:
    """Refuse (409) to change or start work on a run that is committed or still working."""
    from core.jobs.models import QUEUED, RUNNING, Job

    if run.status == COMMITTED:
        raise Conflict(_("This import was committed already."))
    job = db.session.get(Job, run.job_id) if run.job_id else None
    if job is not None and job.status in (QUEUED, RUNNING):
        raise Conflict(_("This file's dry run or import is still running; wait for its job."))


def commit(run_id: int, *, user=None, progress=None, skip_invalid: bool | None = None) -> dict:
    """Import the run's file for good, in one transaction; return the report. Commits.

    Refused (nothing stored, the run marked failed and the report saying why) when the same
    file was already committed into the batch, or when rows are rejected and the user did
    not choose to skip invalid rows.
    """
    with _locale(user):
        run = db.session.get(ImportRun, run_id)
        if run is None:
            raise NotFound(_("There is no such import."))
        if run.status == COMMITTED:
            raise Conflict(_("This import was committed already."))
        if skip_invalid is not None:
            run.skip_invalid = skip_invalid
            db.session.commit()
        db.session.rollback()  # start the transaction with the lock, on fresh state
        lock_batch(run.batch_id, progress=progress)
        db.session.expire_all()
        run = db.session.get(ImportRun, run_id)
        if run.status == COMMITTED:  # another commit of this run held the lock before us
            db.session.rollback()
            raise Conflict(_("This import was committed already."))
        previous = committed_twin(run)
        if previous is not None:
            db.session.rollback()
            message = _(
                "This file was already imported into batch %(batch)s (import #%(run)d, %(name)s);"
                " nothing was changed.",
                batch=run.batch.batch_no, run=previous.id, name=previous.file_name,
            )  # fmt: skip
            _fail(run, message, user, {"duplicate_of": _twin_summary(previous)})
            _audit_outcome(run, user, "import.refused", {"reason": "duplicate file"})
            raise Conflict(message)
        try:
            with bulk.tuned_for_import():
                ctx = process(run, dry_run=False, user=user, progress=progress)
        except UserError as error:
            db.session.rollback()
            _fail(run, error.message, user)
            raise
        report = ctx.report()
        refusal = rejected_rows_refusal(report["rejected"], run.skip_invalid)
        if refusal:
            db.session.rollback()
            report["committed"] = False
            report["message"] = refusal
            _fail(db.session.get(ImportRun, run_id), report["message"], user, report)
            _audit_outcome(run, user, "import.refused", _counts(report))
            return report
        forget_table()
        return _finish_commit(ctx, report, user)


#: New cases from one import past which SQLite's planner statistics are refreshed.
STATISTICS_AFTER_ROWS = 10_000


def _finish_commit(ctx: ImportContext, report: dict, user) -> dict:
    run, batch = ctx.run, ctx.batch
    if ctx.serial_seq is not None:
        batch.serial_seq = ctx.serial_seq
    if ctx.kind.name == "cases" and report["created"] and batch.status != IMPORTED:
        batch.status = IMPORTED
    report["committed"] = True
    report["message"] = _summary(report, dry_run=False)
    run.report, run.status, run.committed_at = report, COMMITTED, utcnow()
    hooks = hooks_for(ctx.contract)
    if ctx.new_case_ids and hooks.after_case_created.get_hookimpls():
        ids = ctx.new_case_ids
        for start in range(0, len(ids), 500):
            for case in ctx.load_cases(ids[start : start + 500]).values():
                hooks.after_case_created(case=case, user=user)
    record(
        "import.committed",
        obj=run,
        user=user,
        details={"batch": batch.id, "kind": run.kind, "file_hash": run.file_hash,
                 **_counts(report)},
    )  # fmt: skip
    hooks.after_batch_imported(batch=batch, run=run, user=user)
    db.session.commit()
    if report["created"] >= STATISTICS_AFTER_ROWS:
        refresh_statistics()  # a big import changes what the case list's planner should do
    return report


def _counts(report: dict) -> dict:
    keys = ("rows_read", "created", "updated", "unchanged", "rejected", "unmatched")
    return {key: report.get(key, 0) for key in keys}


def _audit_outcome(run: ImportRun, user, action: str, details: dict) -> None:
    record(
        action,
        obj=run,
        user=user,
        outcome="failed",
        details={"batch": run.batch_id, "kind": run.kind, "file_hash": run.file_hash, **details},
    )
    db.session.commit()


def _summary(report: dict, *, dry_run: bool) -> str:
    values = {key: report.get(key, 0) for key in ("rows_read", "created", "updated", "rejected")}
    if dry_run:
        return _(
            "%(rows_read)d rows read: %(created)d would be created, %(updated)d updated, "
            "%(rejected)d rejected.",
            **values,
        )
    return _(
        "%(rows_read)d rows read: %(created)d created, %(updated)d updated, %(rejected)d rejected.",
        **values,
    )


# -- workbooks ---------------------------------------------------------------------------------------

#: Text that a spreadsheet would run as a formula if written as it is.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(sheet, value):
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        cell.data_type = "s"  # stays text: never a formula
    return cell


def error_workbook(run: ImportRun) -> io.BytesIO:
    """The rejected rows as they were in the file, with their row number and reasons."""
    from openpyxl import Workbook

    reasons: dict[int, list[str]] = {}
    for number, column, reason in run.report.get("errors", []):
        reasons.setdefault(number, []).append(f"{column}: {reason}" if column else reason)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Rejected rows")[:31])
    headers = run.columns["headers"]
    sheet.append([_text_cell(sheet, v) for v in [_("Row"), *headers, _("Reason")]])
    table = open_table(upload_path(run.stored_name), run.columns["format"])
    for number, raw in enumerate(table.rows(), start=1):
        if number in reasons:
            values = list(raw) + [""] * (len(headers) - len(raw))
            cells = [number, *values[: len(headers)], "; ".join(reasons[number])]
            sheet.append([_text_cell(sheet, value) for value in cells])
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out


def template_workbook(kind: ImportKind) -> io.BytesIO:
    """An empty workbook for ``kind``: headers, a comment on each, required ones marked,
    text columns formatted as text and validation on dates, amounts, numbers and choices."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    from core.imports import schemas

    book = Workbook()
    sheet = book.active
    sheet.title = _("Template")[:31]
    notes = book.create_sheet(_("Fields")[:31])
    notes.append([_("Column"), _("Field"), _("Required"), _("Notes")])
    last = 1001
    for index, (name, cell_field) in enumerate(kind.schema.cells().items(), start=1):
        letter = get_column_letter(index)
        header = sheet.cell(row=1, column=index, value=cell_field.header)
        required = bool(cell_field.required)
        header.font = Font(bold=True, color="C0392B" if required else "000000")
        header.fill = PatternFill("solid", fgColor="FDF3EF" if required else "F3F5F7")
        lines = [str(cell_field.label)]
        if cell_field.metadata["note"]:
            lines.append(str(cell_field.metadata["note"]))
        if required:
            lines.append(_("Required."))
        lines.append(_("Also read as: %(aliases)s", aliases="、".join(cell_field.aliases[1:4])))
        header.comment = Comment("\n".join(lines), "Maple", width=260, height=120)
        notes.append([cell_field.header, str(cell_field.label), _("Yes") if required else "",
                      str(cell_field.metadata["note"] or "")])  # fmt: skip
        sheet.column_dimensions[letter].width = max(12, len(cell_field.header) * 2 + 4)
        excel = cell_field.metadata["excel"]
        target = f"{letter}2:{letter}{last}"
        rule = None
        if excel == schemas.TEXT:
            for row in range(2, last + 1):
                sheet.cell(row=row, column=index).number_format = "@"
        elif excel == schemas.DATE:
            rule = DataValidation(type="date", operator="greaterThan", formula1="1")
            rule.error = _("Enter a date, e.g. 2015-06-10.")
            for row in range(2, last + 1):
                sheet.cell(row=row, column=index).number_format = "yyyy-mm-dd"
        elif excel == schemas.MONEY:
            rule = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="-1E12")
            rule.error = _("Enter an amount, e.g. 12345.60.")
        elif excel == schemas.INTEGER:
            rule = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0")
            rule.error = _("Enter a whole number.")
        elif isinstance(excel, tuple):
            rule = DataValidation(type="list", formula1='"' + ",".join(excel) + '"')
            rule.error = _("Choose one of: %(choices)s", choices="、".join(excel))
        if rule is not None:
            rule.showErrorMessage = True
            rule.add(target)
            sheet.add_data_validation(rule)
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out
