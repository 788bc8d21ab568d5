"""The reports module's pages, one blueprint at /m/reports."""

from flask import Blueprint

reports = Blueprint("reports", __name__, url_prefix="/m/reports", template_folder="../templates")

# Each area adds its routes to ``reports``.
from plugins.reports.views import commission, pages  # noqa: F401
