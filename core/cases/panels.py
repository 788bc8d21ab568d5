"""Panels that modules add to a case's detail page through ``case_detail_panels``."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup


@dataclass(frozen=True)
class Panel:
    title: str
    #: Rendered HTML (use render_template, which escapes); shown as it is.
    html: Markup
    #: Lower comes first. Below 100: the case's work area, shown right under the case's
    #: summary; from 100: after the case file's details.
    order: int = 100


def collect_panels(results) -> list[Panel]:
    """Flatten what the hook returned (a panel, a list, or None per plugin) and sort it."""
    panels: list[Panel] = []
    for result in results:
        if result is None:
            continue
        panels.extend(result if isinstance(result, list | tuple) else [result])
    return sorted(panels, key=lambda panel: panel.order)
