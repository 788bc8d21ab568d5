"""``maple import FILE --batch NO --kind cases``: the web import, from a terminal."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from core.extensions import db
from core.imports.kinds import MATCH_KEYS


class _Progress:
    """A click progress bar in a terminal; plain "done/total" lines on stderr otherwise."""

    def __init__(self, label: str):
        self.label, self.bar, self.tty = label, None, sys.stdout.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.tty:
            click.echo(f"progress {done}/{total}", err=True)
            return
        if self.bar is None:
            self.bar = click.progressbar(length=max(total, 1), label=self.label)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _find_batch(batch_no: str, contract_number: str | None):
    from core.batches.models import Batch
    from core.clients.models import Contract

    query = select(Batch).where(Batch.batch_no == batch_no)
    if contract_number:
        query = query.join(Contract, Contract.id == Batch.contract_id).where(
            Contract.number == contract_number
        )
    found = db.session.scalars(query).all()
    if not found:
        raise click.ClickException(f"no batch {batch_no!r}" + (
            f" under contract {contract_number!r}" if contract_number else ""))  # fmt: skip
    if len(found) > 1:
        raise click.ClickException(
            f"{len(found)} contracts have a batch {batch_no!r}; name one with --contract"
        )
    return found[0]


def echo_report(report: dict) -> None:
    click.echo(report.get("message", ""))
    for key in ("rows_read", "created", "updated", "unchanged", "unmatched", "rejected"):
        click.echo(f"  {key:<10} {report.get(key, 0)}")
    for number, column, reason in report.get("errors", []):
        click.echo(f"  row {number}" + (f", {column}" if column else "") + f": {reason}")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch", "batch_no", required=True, help="The batch no. to import into.")
@click.option("--kind", default="cases", show_default=True, help="The import kind.")
@click.option("--contract", "contract_number", help="The contract, if batch nos. repeat.")
@click.option("--dry-run", is_flag=True, help="Validate and report; store nothing.")
@click.option("--skip-invalid", is_flag=True, help="Store the valid rows, report the others.")
@click.option("--key", type=click.Choice(list(MATCH_KEYS)), help="How rows find their case.")
@with_appcontext
def import_command(file, batch_no, kind, contract_number, dry_run, skip_invalid, key):
    """Import FILE (.xlsx, .xls or .csv) into a batch, with the client's saved mapping."""
    from core.errors import UserError
    from core.imports import services

    batch = _find_batch(batch_no, contract_number)
    progress = _Progress("validating" if dry_run else "importing")
    try:
        run = services.start_import_from_path(batch, kind, file, None)
        if key or skip_invalid:
            services.set_mapping(
                run, run.columns["mapping"], match_key=key or run.match_key,
                skip_invalid=skip_invalid,
            )  # fmt: skip
        else:
            services.set_mapping(run, run.columns["mapping"], match_key=run.match_key)
        db.session.commit()
        click.echo(f"import #{run.id}: {file.name} → batch {batch.batch_no} ({kind})", err=True)
        if dry_run:
            report = services.dry_run(run, progress=progress)
        else:
            report = services.commit(run.id, progress=progress)
    except UserError as error:
        progress.close()
        details = "".join(f"\n  {name}: {'; '.join(map(str, msgs))}"
                          for name, msgs in error.fields.items())  # fmt: skip
        raise click.ClickException(error.message + details) from None
    progress.close()
    echo_report(report)
    if report.get("message") and not dry_run and not report.get("committed"):
        raise SystemExit(1)
    if dry_run and db.session.get(type(run), run.id).status == services.FAILED:
        raise SystemExit(1)
