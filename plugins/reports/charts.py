"""Charts drawn on the server as SVG: a line over periods, bars comparing groups, a pie of
shares. No script and no library: the page, the job's page and a saved copy all show the
same picture, and the Content-Security-Policy stays strict (no inline style: presentation
attributes only).

Every chart is drawn from its :class:`~plugins.reports.framework.Table`: categories from the
chart's ``label`` column, one series per ``values`` column, their titles as legend and axis
text. Values are ``Decimal``, ``int`` or ``None`` (a missing value is skipped, not drawn as 0).

A chart is drawn for a :class:`Canvas`: :data:`WIDE` for a desk's screen and :data:`NARROW`
for a phone, where the picture is shown about 300 px wide and a wide drawing's text would be
too small to read. :func:`render` returns both; the reports stylesheet shows one of them by
the screen's width.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from markupsafe import Markup, escape

from plugins.reports.framework import MONEY, RATE, Chart, Table


@dataclass(frozen=True)
class Canvas:
    """The geometry a chart is drawn for, in the SVG's own units (its viewBox)."""

    #: ``wide`` or ``narrow``: the class of the wrapper the stylesheet shows or hides.
    name: str
    width: int
    height: int
    #: Room for the value axis on the left, the category labels below, the legend on top.
    left: int
    right: int
    top: int
    bottom: int
    #: Category labels are written under the axis for every category when they fit upright
    #: side by side, else for every n-th one: at most this many.
    max_labels: int
    #: A longer category label is cut to this many characters (the full one is its title).
    label_chars: int
    font_size: int
    #: Degrees category labels are turned by when they are too wide to stand side by side.
    slant: int = 30
    #: The pie's radius, and whether its legend stands beside it (or under it).
    pie_radius: int = 110
    pie_legend_beside: bool = True
    #: At most this many slices are named in the pie's legend.
    pie_legend_rows: int = 12

    @property
    def plot_width(self) -> int:
        return self.width - self.left - self.right


#: Today's drawing, for a screen wider than a phone: 640 × 300, text 12.
WIDE = Canvas(
    "wide",
    width=640,
    height=300,
    left=64,
    right=16,
    top=36,
    bottom=56,
    max_labels=12,
    label_chars=14,
    font_size=12,
)
#: For a phone (shown about 300 px wide, text of 14 read at 11 px or more) and for the column
#: beside a table on a wide screen (about 450 px), where the wide drawing's text is too small.
NARROW = Canvas(
    "narrow",
    width=360,
    height=300,
    left=50,
    right=12,
    top=40,
    bottom=64,
    max_labels=4,
    label_chars=10,
    font_size=14,
    slant=45,
    pie_radius=84,
    pie_legend_beside=False,
    pie_legend_rows=8,
)
CANVASES = (WIDE, NARROW)

FONT = "'Noto Sans CJK SC', 'WenQuanYi Micro Hei', sans-serif"
PALETTE = ("#2f6fb3", "#e07b39", "#3a9a5b", "#c0392b", "#8e5bb5", "#7f8c8d", "#d4a017", "#16a085")


def render(table: Table) -> Markup:
    """``table``'s chart drawn for every canvas, each in a ``div.chart-canvas.chart-<name>``
    (the stylesheet shows the one that fits the screen), or an empty string when it has none."""
    if table.chart is None:
        return Markup("")
    return Markup("\n").join(
        Markup('<div class="chart-canvas chart-{}">{}</div>').format(
            canvas.name, draw(table, canvas)
        )
        for canvas in CANVASES
    )


def draw(table: Table, canvas: Canvas = WIDE) -> Markup:
    """The SVG of ``table``'s chart drawn for ``canvas``, or an empty string when it has none."""
    chart = table.chart
    if chart is None:
        return Markup("")
    drawers = {"line": line_chart, "bar": bar_chart, "pie": pie_chart}
    drawer = drawers.get(chart.kind, bar_chart)
    return drawer(table, chart, canvas)


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


def _short(text: str, canvas: Canvas) -> str:
    limit = canvas.label_chars
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_width(text: str, font_size: float) -> float:
    """About how wide ``text`` is drawn: a Chinese character is square, others about 0.55."""
    return sum(
        font_size if unicodedata.east_asian_width(c) in ("W", "F") else font_size * 0.55
        for c in text
    )


# -- drawing ---------------------------------------------------------------------------------


def _svg(
    chart: Chart, table: Table, body: list[str], kind: str, canvas: Canvas, height=None
) -> Markup:
    title = str(chart.title or table.title)
    height = canvas.height if height is None else height
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" role="img" '
            f'viewBox="0 0 {canvas.width} {height:.0f}" width="100%" '
            f'preserveAspectRatio="xMidYMid meet" data-canvas="{canvas.name}" '
            f'font-family="{FONT}" font-size="{canvas.font_size}" aria-label="{escape(title)}">'
        ),
        f"<title>{escape(title)}</title>",
        *body,
        "</svg>",
    ]
    return Markup("\n".join(parts))


def _no_data(table: Table, chart: Chart, canvas: Canvas) -> Markup:
    body = [
        (
            f'<text class="no-data" x="{canvas.width / 2:.0f}" y="{canvas.height / 2:.0f}" '
            f'text-anchor="middle" fill="#6b7785" font-size="{canvas.font_size + 2}">'
            f"{escape(_('No data for this period.'))}</text>"
        )
    ]
    return _svg(chart, table, body, "empty", canvas)


def _legend(series: list[tuple[str, str, list]], canvas: Canvas) -> tuple[list[str], int]:
    """The legend's items, wrapped into as many rows as the canvas needs; and how many extra
    rows it took (the plot starts that much lower)."""
    font = canvas.font_size
    line = font + 8
    parts, x, y, rows = [], canvas.left, font + 4, 0
    for index, (key, title, _values) in enumerate(series):
        width = 14 + text_width(title, font)
        if x > canvas.left and x + width > canvas.width - canvas.right:
            x, y, rows = canvas.left, y + line, rows + 1
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<g class="legend-item" data-series="{escape(key)}">'
            f'<rect x="{x:.0f}" y="{y - font + 3}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14:.0f}" y="{y}">{escape(title)}</text></g>'
        )
        x += width + 16
    return parts, rows * line


class _Frame:
    """Where the plot is drawn on a canvas: lower by the legend's extra rows
    (``legend_height``), with less room below when the category labels stand upright."""

    def __init__(self, canvas: Canvas, legend_height: int = 0, slanted: bool = True):
        self.canvas = canvas
        self.left = canvas.left
        self.right = canvas.width - canvas.right
        self.top = canvas.top + legend_height
        below = canvas.bottom if slanted else min(canvas.bottom, 2 * canvas.font_size + 8)
        self.height = canvas.height + legend_height - (canvas.bottom - below)
        self.bottom = self.height - below


def _axes(ticks: list[float], kind: str, scale_y, frame: _Frame) -> list[str]:
    parts = [
        (
            f'<line class="axis" x1="{frame.left}" y1="{frame.top}" x2="{frame.left}" '
            f'y2="{frame.bottom}" stroke="#9aa5b1"/>'
        )
    ]
    for tick in ticks:
        y = scale_y(tick)
        parts.append(
            f'<line class="grid" x1="{frame.left}" y1="{y:.1f}" x2="{frame.right}" y2="{y:.1f}" '
            f'stroke="#e3e8ee"/>'
            f'<text class="tick" x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="#52606d">{escape(_tick_text(tick, kind))}</text>'
        )
    return parts


def _label_plan(categories: list[str], x_of, canvas: Canvas) -> tuple[list[int], bool]:
    """Which categories get a label under the axis, and whether the labels are turned.

    Every one when they all fit upright side by side; else every n-th, at most the canvas's
    ``max_labels``, turned when even these would run into their neighbours."""
    if not categories:
        return [], False
    font = canvas.font_size
    widest = max(text_width(_short(c, canvas), font) for c in categories) + font / 2
    step = abs(x_of(1) - x_of(0)) if len(categories) > 1 else canvas.plot_width
    fits = math.ceil(widest / step) if step else len(categories)
    every = max(1, min(fits, math.ceil(len(categories) / canvas.max_labels)))
    written = list(range(0, len(categories), every))
    spacing = step * every if len(written) > 1 else canvas.plot_width
    return written, widest > spacing


def _category_labels(
    categories: list[str], written: list[int], slanted: bool, x_of, frame: _Frame
) -> list[str]:
    canvas = frame.canvas
    parts = []
    for index in written:
        category = categories[index]
        x, y = x_of(index), frame.bottom + canvas.font_size + 4
        turn = f' transform="rotate(-{canvas.slant} {x:.1f} {y})"' if slanted else ""
        anchor = "end" if slanted else "middle"
        parts.append(
            f'<text class="category" x="{x:.1f}" y="{y}" text-anchor="{anchor}"{turn} '
            f'fill="#52606d"><title>{escape(category)}</title>'
            f"{escape(_short(category, canvas))}</text>"
        )
    return parts


def _scale(series, frame: _Frame):
    values = [v for _key, _title, vs in series for v in vs if v is not None]
    ticks = nice_ticks(min(values), max(values))
    low, high = ticks[0], ticks[-1]
    span = frame.bottom - frame.top

    def scale_y(value: float) -> float:
        return frame.bottom - (value - low) / (high - low) * span

    return ticks, scale_y


def line_chart(table: Table, chart: Chart, canvas: Canvas = WIDE) -> Markup:
    """One line per series over the categories (periods), a dot at every known value."""
    categories, series = _series(table, chart)
    if not any(v is not None for _k, _t, vs in series for v in vs):
        return _no_data(table, chart, canvas)
    kind = _kind_of(table, chart.values[0])
    plot = canvas.plot_width
    step = plot / max(len(categories) - 1, 1)

    def x_of(index: int) -> float:
        return canvas.left + (index * step if len(categories) > 1 else plot / 2)

    written, slanted = _label_plan(categories, x_of, canvas)
    legend, legend_height = _legend(series, canvas)
    frame = _Frame(canvas, legend_height, slanted)
    ticks, scale_y = _scale(series, frame)

    body = [*legend, *_axes(ticks, kind, scale_y, frame)]
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
    body.extend(_category_labels(categories, written, slanted, x_of, frame))
    return _svg(chart, table, body, "line", canvas, frame.height)


def bar_chart(table: Table, chart: Chart, canvas: Canvas = WIDE) -> Markup:
    """Bars side by side per category, one colour per series; a bar's height is its value."""
    categories, series = _series(table, chart)
    if not any(v is not None for _k, _t, vs in series for v in vs):
        return _no_data(table, chart, canvas)
    kind = _kind_of(table, chart.values[0])
    band = canvas.plot_width / len(categories)
    bar = band * 0.8 / len(series)

    def x_of(index: int) -> float:
        return canvas.left + band * (index + 0.5)

    written, slanted = _label_plan(categories, x_of, canvas)
    legend, legend_height = _legend(series, canvas)
    frame = _Frame(canvas, legend_height, slanted)
    ticks, scale_y = _scale(series, frame)

    zero = scale_y(0.0)
    body = [*legend, *_axes(ticks, kind, scale_y, frame)]
    for number, (key, title, values) in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        body.append(f'<g class="series" data-series="{escape(key)}">')
        for index, value in enumerate(values):
            if value is None:
                continue
            top = scale_y(value)
            x = frame.left + band * index + band * 0.1 + bar * number
            body.append(
                f'<rect class="bar" x="{x:.2f}" y="{min(top, zero):.2f}" width="{bar:.2f}" '
                f'height="{abs(zero - top):.2f}" fill="{colour}" data-value="{value!r}">'
                f"<title>{escape(categories[index])} · {escape(title)}: "
                f"{escape(_value_text(value, _kind_of(table, key)))}</title></rect>"
            )
        body.append("</g>")
    body.append(
        f'<line class="baseline" x1="{frame.left}" y1="{zero:.1f}" x2="{frame.right}" '
        f'y2="{zero:.1f}" stroke="#9aa5b1"/>'
    )
    body.extend(_category_labels(categories, written, slanted, x_of, frame))
    return _svg(chart, table, body, "bar", canvas, frame.height)


def pie_chart(table: Table, chart: Chart, canvas: Canvas = WIDE) -> Markup:
    """Shares of the first series' total, one slice per category with a positive value; the
    legend beside the pie on a wide canvas, under it on a narrow one."""
    categories, series = _series(table, chart)
    key, title, values = series[0]
    slices = [(c, v) for c, v in zip(categories, values, strict=True) if v is not None and v > 0]
    total = sum(v for _c, v in slices)
    if not slices or total <= 0:
        return _no_data(table, chart, canvas)
    font, radius = canvas.font_size, canvas.pie_radius
    line = font + 6
    if canvas.pie_legend_beside:
        cx, cy = radius + 40, canvas.height / 2 + 8
        legend_x, legend_y = 2 * radius + 80, canvas.top
        height = canvas.height
    else:
        cx, cy = canvas.width / 2, canvas.top + radius
        legend_x, legend_y = canvas.left / 2, cy + radius + 16 + font
        height = legend_y + line * min(len(slices), canvas.pie_legend_rows) - line + 12
    body = [f'<text class="series-title" x="{canvas.left}" y="{font + 4}">{escape(title)}</text>']
    angle = -math.pi / 2
    for index, (category, value) in enumerate(slices):
        colour = PALETTE[index % len(PALETTE)]
        share = value / total
        value_text = escape(_value_text(value, _kind_of(table, key)))
        label = f"{escape(category)}: {value_text} ({share * 100:.1f}%)"
        if len(slices) == 1:
            shape = f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{radius}" fill="{colour}"'
        else:
            end = angle + share * 2 * math.pi
            x1, y1 = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
            x2, y2 = cx + radius * math.cos(end), cy + radius * math.sin(end)
            large = 1 if share > 0.5 else 0
            shape = (
                f'<path d="M{cx:.1f},{cy:.1f} L{x1:.2f},{y1:.2f} A{radius},{radius} 0 {large} 1 '
                f'{x2:.2f},{y2:.2f} Z" fill="{colour}" stroke="#fff"'
            )
            angle = end
        body.append(
            f'<g class="slice" data-value="{value!r}" data-share="{share:.6f}">{shape}>'
            f"<title>{label}</title></{'circle' if len(slices) == 1 else 'path'}></g>"
        )
        y = legend_y + line * index
        if canvas.pie_legend_beside:
            shown = y < canvas.height - 12
        else:
            shown = index < canvas.pie_legend_rows
        if shown:
            text = label
            if not canvas.pie_legend_beside:
                text = f"{escape(_short(category, canvas))}: {value_text} ({share * 100:.1f}%)"
            body.append(
                f'<g class="legend-item"><rect x="{legend_x:.0f}" y="{y - font + 3:.0f}" '
                f'width="10" height="10" fill="{colour}"/>'
                f'<text x="{legend_x + 16:.0f}" y="{y:.0f}">{text}</text></g>'
            )
    return _svg(chart, table, body, "pie", canvas, height)
