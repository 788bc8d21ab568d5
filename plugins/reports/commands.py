"""``maple reports …``: the reports module's commands."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group("reports")
def reports_command():
    """The reports module: the month-end snapshot agencies run from cron."""


@reports_command.command("snapshot")
@click.option(
    "--month",
    type=click.DateTime(formats=["%Y-%m"]),
    default=None,
    help="The month to take (YYYY-MM). Default: the month just ended when run on the 1st, "
    "else the current month so far.",
)
@with_appcontext
def snapshot(month):
    """Take the month-end bucket snapshot the roll-rate report reads.

    Writes where every case of the contracts with the reports module on stands (bucket,
    status, balance, holder) as the snapshot of the month, with each case's bucket in the
    previous month's snapshot. Taking a month again replaces it. Without --month, run on
    the 1st of a month it takes the month that just ended; on any other day, the current
    month as it stands so far. Run it at the start of each month, for example from cron:

        5 0 1 * *  maple reports snapshot
    """
    from core.audit.services import record
    from core.extensions import db
    from plugins.reports.snapshots import (
        default_snapshot_month,
        refresh_statistics,
        take_snapshot,
    )

    chosen = month.date().replace(day=1) if month else default_snapshot_month()
    count = take_snapshot(chosen)
    record(
        "reports.snapshot_taken",
        object_type="reports_bucket_snapshots",
        object_id=chosen.strftime("%Y-%m"),
        details={"month": chosen.strftime("%Y-%m"), "cases": count},
        username="cli",
    )
    db.session.commit()
    refresh_statistics()
    click.echo(f"snapshot {chosen:%Y-%m}: {count} cases")
