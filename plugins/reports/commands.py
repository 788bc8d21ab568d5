"""``maple reports …``: the reports module's commands."""

from __future__ import annotations

import click


@click.group("reports")
def reports_command():
    """The reports module: the month-end snapshot agencies run from cron."""
