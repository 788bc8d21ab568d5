"""``maple collection …``: the collection module's commands (each area adds its own)."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import with_appcontext

from core.extensions import db


@click.group("collection")
def collection_command():
    """The collection module: daily jobs agencies run from cron."""


@collection_command.command("evaluate-promises")
@click.option(
    "--date",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Judge as of this day (YYYY-MM-DD) instead of today in the agency's time zone.",
)
@with_appcontext
def evaluate_promises(as_of):
    """Judge promises to pay whose date has passed: kept or broken.

    A promise is kept when confirmed repayments on its case, dated from the day it was made
    up to and including its due date, add up to its amount; otherwise it is broken once its
    due date is over. Promises are also judged whenever a payment is confirmed; this daily
    run catches the ones nobody paid. Run it once a day after midnight, for example from
    cron:

        15 0 * * *  maple collection evaluate-promises

    Running it twice judges nothing twice.
    """
    from plugins.collection.promises import evaluate_due

    today: date | None = as_of.date() if as_of else None
    counts = evaluate_due(today, commit=db.session.commit)
    db.session.commit()
    click.echo(f"promises kept: {counts['kept']}, broken: {counts['broken']}")
