"""Every report of the module: importing this registers them (framework.REPORTS)."""

from plugins.reports import activity, commission, portfolio, rankings, recovery, sections  # noqa: F401
