"""Charts drawn on the server as SVG: a line over periods, bars comparing groups, a pie of
shares. No script and no library: the page, the job's page and a saved copy all show the
same picture, and the Content-Security-Policy stays strict (no inline style: presentation
attributes only).

Every chart is drawn from its :class:`~plugins.reports.framework.Table`: categories from the
chart's ``label`` column, one series per ``values`` column, their titles as legend and axis
text. Values are ``Decimal``, ``int`` or ``None`` (a missing value is skipped, not drawn as 0).
"""

from __future__ import annotations

import math
from decimal import Decimal

from flask_babel import gettext as _
from markupsafe import Markup, escape

from plugins.reports.framework import MONEY, RATE, Chart, Table

WIDTH, HEIGHT = 640, 300
#: Room for the value axis on the left, the category labels below, the legend on top.
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 36, 56
FONT = "'Noto Sans CJK SC', 'WenQuanYi Micro Hei', sans-serif"
PALETTE = ("#2f6fb3", "#e07b39", "#3a9a5b", "#c0392b", "#8e5bb5", "#7f8c8d", "#d4a017", "#16a085")
#: At most this many category labels are written under the axis (every n-th one).
MAX_LABELS = 12
LABEL_CHARS = 14


def render(table: Table) -> Markup:
    """The SVG of ``table``'s chart, or an empty string when it has none."""
    chart = table.chart
    if chart is None:
        return Markup("")
    drawers = {"line": line_chart, "bar": bar_chart, "pie": pie_chart}
    drawer = drawers.get(chart.kind, bar_chart)
    return drawer(table, chart)


# -- data ------------------------------------------------------------------------------------


def _number(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    try:
        return float(Decimal(str(value)))
    except ArithmeticError:
        return None


def _series(table: Table, chart: Chart) -> tuple[list[str], list[tuple[str, str, list]]]:
    """Categories, and per series ``(key, title, values)`` with None for missing values."""
    titles = {column.key: str(column.title) for column in table.columns}
    categories = [_text(row.get(chart.label)) for row in table.rows]
    series = [
        (key, titles.get(key, key), [_number(row.get(key)) for row in table.rows])
        for key in chart.values
    ]
    return categories, series


def _text(value) -> str:
    return "" if value is None else str(value)


def _kind_of(table: Table, key: str) -> str:
    for column in table.columns:
        if column.key == key:
            return column.kind
    return ""


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``low``..``high`` (steps of 1, 2, 2.5 or 5 × 10ⁿ)."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value < high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _tick_text(value: float, kind: str) -> str:
    if kind == RATE:
        return (
            f"{value * 100:.0f}%"
            if abs(value * 100 - round(value * 100)) < 1e-9
            else (f"{value * 100:.1f}%")
        )
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if abs(value) >= 10_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"


def _value_text(value: float, kind: str) -> str:
    if kind == RATE:
        return f"{value * 100:.2f}%"
    if kind == MONEY:
        return f"{value:,.2f}"
    return f"{value:g}"


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


# -- drawing ---------------------------------------------------------------------------------


def _svg(chart: Chart, table: Table, body: list[str], kind: str) -> Markup:
    title = str(chart.title or table.title)
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" role="img" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" preserveAspectRatio="xMidYMid meet" '
            f'font-family="{FONT}" font-size="12" aria-label="{escape(title)}">'
        ),
        f"<title>{escape(title)}</title>",
        *body,
        "</svg>",
    ]
    return Markup("\n".join(parts))


def _no_data(table: Table, chart: Chart) -> Markup:
    body = [
        (
            f'<text class="no-data" x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" text-anchor="middle" '
            f'fill="#6b7785" font-size="14">{escape(_("No data for this period."))}</text>'
        )
    ]
    return _svg(chart, table, body, "empty")


def _legend(series: list[tuple[str, str, list]], *, y: int = 16) -> list[str]:
    parts, x = [], LEFT
    for index, (key, title, _values) in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<g class="legend-item" data-series="{escape(key)}">'
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{y}">{escape(title)}</text></g>'
        )
        x += 24 + 12 * len(title) + 8
    return parts


def _axes(ticks: list[float], kind: str, scale_y) -> list[str]:
    parts = [
        (
            f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" '
            f'stroke="#9aa5b1"/>'
        )
    ]
    for tick in ticks:
        y = scale_y(tick)
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="#e3e8ee"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="#52606d">{escape(_tick_text(tick, kind))}</text>'
        )
    return parts


def _category_labels(categories: list[str], x_of) -> list[str]:
    every = max(1, math.ceil(len(categories) / MAX_LABELS))
    slanted = len(categories) > 6
    parts = []
    for index, category in enumerate(categories):
        if index % every:
            continue
        x, y = x_of(index), HEIGHT - BOTTOM + 16
        turn = f' transform="rotate(-30 {x:.1f} {y})"' if slanted else ""
        anchor = "end" if slanted else "middle"
        parts.append(
            f'<text class="category" x="{x:.1f}" y="{y}" text-anchor="{anchor}"{turn} '
            f'fill="#52606d"><title>{escape(category)}</title>{escape(_short(category))}</text>'
        )
    return parts


def _scale(series):
    values = [v for _key, _title, vs in series for v in vs if v is not None]
    ticks = nice_ticks(min(values), max(values))
    low, high = ticks[0], ticks[-1]
    span = HEIGHT - TOP - BOTTOM

    def scale_y(value: float) -> float:
        return HEIGHT - BOTTOM - (value - low) / (high - low) * span

    return ticks, scale_y


def line_chart(table: Table, chart: Chart) -> Markup:
    """One line per series over the categories (periods), a dot at every known value."""
    categories, series = _series(table, chart)
    if not any(v is not None for _k, _t, vs in series for v in vs):
        return _no_data(table, chart)
    kind = _kind_of(table, chart.values[0])
    ticks, scale_y = _scale(series)
    plot = WIDTH - LEFT - RIGHT
    step = plot / max(len(categories) - 1, 1)

    def x_of(index: int) -> float:
        return LEFT + (index * step if len(categories) > 1 else plot / 2)

    body = [*_legend(series), *_axes(ticks, kind, scale_y)]
    for index, (key, title, values) in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        points = [(x_of(i), scale_y(v), v, i) for i, v in enumerate(values) if v is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _v, _i in points)
        body.append(
            f'<g class="series" data-series="{escape(key)}">'
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        for x, y, value, i in points:
            body.append(
                f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}" '
                f'data-value="{value!r}"><title>{escape(categories[i])} · {escape(title)}: '
                f"{escape(_value_text(value, _kind_of(table, key)))}</title></circle>"
            )
        body.append("</g>")
    body.extend(_category_labels(categories, x_of))
    return _svg(chart, table, body, "line")


def bar_chart(table: Table, chart: Chart) -> Markup:
    """Bars side by side per category, one colour per series; a bar's height is its value."""
    categories, series = _series(table, chart)
    if not any(v is not None for _k, _t, vs in series for v in vs):
        return _no_data(table, chart)
    kind = _kind_of(table, chart.values[0])
    ticks, scale_y = _scale(series)
    plot = WIDTH - LEFT - RIGHT
    band = plot / len(categories)
    bar = band * 0.8 / len(series)

    def x_of(index: int) -> float:
        return LEFT + band * (index + 0.5)

    zero = scale_y(0.0)
    body = [*_legend(series), *_axes(ticks, kind, scale_y)]
    for number, (key, title, values) in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        body.append(f'<g class="series" data-series="{escape(key)}">')
        for index, value in enumerate(values):
            if value is None:
                continue
            top = scale_y(value)
            x = LEFT + band * index + band * 0.1 + bar * number
            body.append(
                f'<rect class="bar" x="{x:.2f}" y="{min(top, zero):.2f}" width="{bar:.2f}" '
                f'height="{abs(zero - top):.2f}" fill="{colour}" data-value="{value!r}">'
                f"<title>{escape(categories[index])} · {escape(title)}: "
                f"{escape(_value_text(value, _kind_of(table, key)))}</title></rect>"
            )
        body.append("</g>")
    body.append(
        f'<line class="baseline" x1="{LEFT}" y1="{zero:.1f}" x2="{WIDTH - RIGHT}" '
        f'y2="{zero:.1f}" stroke="#9aa5b1"/>'
    )
    body.extend(_category_labels(categories, x_of))
    return _svg(chart, table, body, "bar")


def pie_chart(table: Table, chart: Chart) -> Markup:
    """Shares of the first series' total, one slice per category with a positive value."""
    categories, series = _series(table, chart)
    key, title, values = series[0]
    slices = [(c, v) for c, v in zip(categories, values, strict=True) if v is not None and v > 0]
    total = sum(v for _c, v in slices)
    if not slices or total <= 0:
        return _no_data(table, chart)
    cx, cy, radius = 150, HEIGHT / 2 + 8, 110
    body = [f'<text class="series-title" x="{LEFT}" y="16">{escape(title)}</text>']
    angle = -math.pi / 2
    for index, (category, value) in enumerate(slices):
        colour = PALETTE[index % len(PALETTE)]
        share = value / total
        label = f"{escape(category)}: {escape(_value_text(value, _kind_of(table, key)))} " \
            f"({share * 100:.1f}%)"  # fmt: skip
        if len(slices) == 1:
            shape = f'<circle cx="{cx}" cy="{cy:.1f}" r="{radius}" fill="{colour}"'
        else:
            end = angle + share * 2 * math.pi
            x1, y1 = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
            x2, y2 = cx + radius * math.cos(end), cy + radius * math.sin(end)
            large = 1 if share > 0.5 else 0
            shape = (
                f'<path d="M{cx},{cy:.1f} L{x1:.2f},{y1:.2f} A{radius},{radius} 0 {large} 1 '
                f'{x2:.2f},{y2:.2f} Z" fill="{colour}" stroke="#fff"'
            )
            angle = end
        body.append(
            f'<g class="slice" data-value="{value!r}" data-share="{share:.6f}">{shape}>'
            f"<title>{label}</title></{'circle' if len(slices) == 1 else 'path'}></g>"
        )
        y = TOP + 18 * index
        if y < HEIGHT - 12:
            body.append(
                f'<g class="legend-item"><rect x="300" y="{y - 9}" width="10" height="10" '
                f'fill="{colour}"/><text x="316" y="{y}">{label}</text></g>'
            )
    return _svg(chart, table, body, "pie")
