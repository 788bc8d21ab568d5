"""Server-side SVG charts: parsed back with xml.etree, their points, bars and slices match
the table's values; titles are escaped; an empty table says so instead of drawing nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from plugins.reports import charts
from plugins.reports.framework import INT, MONEY, RATE, TEXT, Chart, Column, Table

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup, canvas: str = "wide") -> ET.Element:
    """The SVG drawn for ``canvas`` out of what ``render`` returns (a wrapper per canvas)."""
    root = ET.fromstring(f"<charts>{markup}</charts>")
    wrapper = next(div for div in root if f"chart-{canvas}" in div.get("class").split())
    return wrapper.find(f"{SVG}svg")


def table(kind, rows, values=("amount",)):
    return Table(
        key="t",
        title="Recovered <by> month",
        columns=[
            Column("period", "Month", TEXT),
            Column("amount", "Recovered & confirmed", MONEY),
            Column("cases", "Cases", INT),
            Column("share", "Rate", RATE),
        ],
        rows=rows,
        chart=Chart(kind, "period", tuple(values)),
    )


ROWS = [
    {"period": "2026-01", "amount": Decimal("1200.50"), "cases": 3, "share": Decimal("0.1")},
    {"period": "2026-02", "amount": None, "cases": 0, "share": None},
    {"period": "2026-03", "amount": Decimal("300.25"), "cases": 7, "share": Decimal("0.25")},
]


def y_of(svg, value) -> float:
    """The y of a tick's grid line, read from its label (to check the scale)."""
    for text in svg.iter(f"{SVG}text"):
        if text.get("class") == "tick" and text.text == value:
            return float(text.get("y")) - 4
    raise AssertionError(f"no tick {value}")


def test_line_chart_has_a_point_per_known_value_on_the_scale(app):
    svg = parse(charts.render(table("line", ROWS)))
    points = [c for c in svg.iter(f"{SVG}circle") if c.get("class") == "point"]
    assert [float(p.get("data-value")) for p in points] == [1200.5, 300.25]  # None skipped
    zero, top = y_of(svg, "0"), min(float(p.get("cy")) for p in points)
    ticks = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "tick"]
    assert ticks[0] == "0" and len(ticks) >= 3
    # Heights above zero are proportional to the values.
    heights = [zero - float(p.get("cy")) for p in points]
    assert heights[0] / heights[1] == pytest.approx(1200.5 / 300.25, rel=1e-3)
    assert top < zero
    polyline = next(svg.iter(f"{SVG}polyline"))
    assert len(polyline.get("points").split()) == 2


def test_bar_chart_draws_one_bar_per_value_and_series(app):
    svg = parse(charts.render(table("bar", ROWS, values=("amount", "cases"))))
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert [float(b.get("data-value")) for b in bars] == [1200.5, 300.25, 3, 0, 7]
    by_value = {float(b.get("data-value")): float(b.get("height")) for b in bars}
    assert by_value[1200.5] / by_value[300.25] == pytest.approx(1200.5 / 300.25, rel=1e-3)
    assert by_value[0] == 0
    legend = [t.text for t in svg.iter(f"{SVG}text") if t.text and "Recovered" in t.text]
    assert legend == ["Recovered & confirmed"]  # the column's title, escaped and read back


def test_pie_chart_slices_are_shares_of_the_total(app):
    svg = parse(charts.render(table("pie", ROWS)))
    slices = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "slice"]
    shares = [float(s.get("data-share")) for s in slices]
    assert shares == pytest.approx([1200.5 / 1500.75, 300.25 / 1500.75], abs=1e-6)


def test_rate_ticks_are_percentages(app):
    svg = parse(charts.render(table("line", ROWS, values=("share",))))
    ticks = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "tick"]
    assert ticks[0] == "0%" and all(t.endswith("%") for t in ticks)


def test_chart_is_accessible_and_uses_a_chinese_font(app):
    svg = parse(charts.render(table("bar", ROWS)))
    assert svg.get("role") == "img" and svg.get("aria-label") == "Recovered <by> month"
    assert svg.find(f"{SVG}title").text == "Recovered <by> month"
    assert "Noto Sans CJK SC" in svg.get("font-family")


@pytest.mark.parametrize("kind", ["line", "bar", "pie"])
def test_empty_data_says_so(app, english, kind):
    empty = [{"period": "2026-01", "amount": None}, {"period": "2026-02", "amount": Decimal(0)}]
    svg = parse(charts.render(table(kind, [] if kind == "line" else empty)))
    texts = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "no-data"]
    if kind == "bar":  # a zero is a value: the bar chart draws its axis
        assert texts == []
    else:
        assert texts == ["No data for this period."]


def test_a_table_without_chart_draws_nothing(app):
    plain = table("bar", ROWS)
    plain.chart = None
    assert str(charts.render(plain)) == ""


def test_nice_ticks_cover_the_range_with_round_steps():
    assert charts.nice_ticks(0, 97) == [0, 20, 40, 60, 80, 100]
    assert charts.nice_ticks(-3, 7)[0] <= -3 and charts.nice_ticks(-3, 7)[-1] >= 7
    assert charts.nice_ticks(0, 0) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]


# -- the narrow canvas (a phone) -------------------------------------------------------------

DAYS = [
    {"period": f"2026-03-{day:02d}", "amount": Decimal(day * 100), "cases": day, "share": None}
    for day in range(1, 32)
]


def view_box(svg) -> tuple[float, float]:
    _x, _y, width, height = (float(n) for n in svg.get("viewBox").split())
    return width, height


def shown(label) -> str:
    """A category label's text as written (after its ``<title>``, which has the full text)."""
    return label.find(f"{SVG}title").tail


def categories(svg) -> list[str]:
    return [
        t.find(f"{SVG}title").text for t in svg.iter(f"{SVG}text") if t.get("class") == "category"
    ]


@pytest.mark.parametrize("kind", ["line", "bar", "pie"])
def test_render_draws_the_chart_for_a_wide_and_a_narrow_canvas(app, kind):
    markup = str(charts.render(table(kind, ROWS)))
    wide, narrow = parse(markup, "wide"), parse(markup, "narrow")
    assert view_box(wide) == (charts.WIDE.width, charts.WIDE.height) or kind != "pie"
    assert view_box(wide)[0] == 640 and view_box(narrow)[0] == charts.NARROW.width <= 400
    assert wide.get("data-canvas") == "wide" and narrow.get("data-canvas") == "narrow"
    assert wide.get("class") == narrow.get("class") == f"chart chart-{kind}"
    # Both drawings carry the same values.
    marks = {"line": "circle", "bar": "rect", "pie": "g"}[kind]

    def values(svg):
        return [e.get("data-value") for e in svg.iter(f"{SVG}{marks}") if e.get("data-value")]

    assert values(wide) == values(narrow) and values(wide)


def test_the_narrow_canvas_writes_fewer_category_labels(app):
    markup = charts.render(table("line", DAYS))
    wide, narrow = parse(markup, "wide"), parse(markup, "narrow")
    assert len(categories(narrow)) <= charts.NARROW.max_labels < len(categories(wide))
    assert len(categories(wide)) <= charts.WIDE.max_labels
    assert categories(narrow)[0] == "2026-03-01"  # the first period is always named
    points = [c for c in narrow.iter(f"{SVG}circle") if c.get("class") == "point"]
    assert len(points) == 31  # every day is drawn, only the labels are fewer


def test_short_category_labels_are_all_written_when_they_fit_upright(app):
    buckets = [{"period": f"M{n}", "amount": Decimal(n)} for n in range(1, 9)]
    narrow = parse(charts.render(table("bar", buckets)), "narrow")
    labels = [t for t in narrow.iter(f"{SVG}text") if t.get("class") == "category"]
    assert [shown(t) for t in labels] == [f"M{n}" for n in range(1, 9)]
    assert all(t.get("transform") is None for t in labels)
    # Upright labels need less room below: the drawing is lower than the canvas.
    assert view_box(narrow)[1] < charts.NARROW.height


def test_a_long_category_label_is_cut_and_keeps_its_full_title(app):
    name = "一个很长很长的委托方合同名称"
    narrow = parse(charts.render(table("bar", [{"period": name, "amount": 1}])), "narrow")
    (label,) = [t for t in narrow.iter(f"{SVG}text") if t.get("class") == "category"]
    assert shown(label) == name[: charts.NARROW.label_chars - 1] + "…"
    assert label.find(f"{SVG}title").text == name


def test_narrow_text_reads_at_10_px_or_more_on_a_390_px_phone(app):
    """At 390 px the chart's box is about 300 px wide (page and card padding): the narrow
    canvas's text, scaled by 300 / its width, is still 10 px or more; no text is smaller."""
    shown = 300 / charts.NARROW.width
    assert charts.NARROW.font_size * shown >= 10
    for kind in ("line", "bar", "pie"):
        narrow = parse(charts.render(table(kind, ROWS)), "narrow")
        assert float(narrow.get("font-size")) * shown >= 10
        sizes = [float(t.get("font-size")) for t in narrow.iter(f"{SVG}text") if t.get("font-size")]
        assert all(size * shown >= 10 for size in sizes)


def test_the_narrow_legend_wraps_inside_the_canvas(app):
    titles = [f"Series number {n} with a long title" for n in range(4)]
    wide_table = Table(
        key="t",
        title="Many series",
        columns=[Column("period", "Month", TEXT)]
        + [Column(f"s{n}", title, INT) for n, title in enumerate(titles)],
        rows=[{"period": "2026-01", **{f"s{n}": n + 1 for n in range(4)}}],
        chart=Chart("bar", "period", tuple(f"s{n}" for n in range(4))),
    )
    narrow = parse(charts.render(wide_table), "narrow")
    items = [g for g in narrow.iter(f"{SVG}g") if g.get("class") == "legend-item"]
    assert len(items) == 4
    for item in items:
        text = item.find(f"{SVG}text")
        right = float(text.get("x")) + charts.text_width(text.text, charts.NARROW.font_size)
        assert right <= charts.NARROW.width
    rows = {item.find(f"{SVG}text").get("y") for item in items}
    assert len(rows) >= 2
    # The plot starts below the legend's last row.
    axis = next(line for line in narrow.iter(f"{SVG}line") if line.get("class") == "axis")
    assert float(axis.get("y1")) > max(float(y) for y in rows)


def test_the_narrow_pie_has_its_legend_under_it(app):
    narrow = parse(charts.render(table("pie", ROWS)), "narrow")
    items = [g for g in narrow.iter(f"{SVG}g") if g.get("class") == "legend-item"]
    assert [i.find(f"{SVG}text").text for i in items] == [
        "2026-01: 1,200.50 (80.0%)",
        "2026-03: 300.25 (20.0%)",
    ]
    under = charts.NARROW.top + 2 * charts.NARROW.pie_radius
    assert all(float(i.find(f"{SVG}text").get("y")) > under for i in items)
    assert max(float(i.find(f"{SVG}text").get("y")) for i in items) < view_box(narrow)[1]


def test_the_report_page_has_both_drawings_and_the_stylesheet_shows_one(
    with_gauges, sign_in_as, client, db, world
):
    sign_in_as(world["manager"])
    html = client.get(
        "/m/reports/recovery", query_string={"start": "2026-03-01", "end": "2026-03-31"}
    ).get_data(as_text=True)
    figure = html.split('<figure class="report-chart">')[1].split("</figure>")[0]
    assert figure.count('<div class="chart-canvas chart-wide">') == 1
    assert figure.count('<div class="chart-canvas chart-narrow">') == 1
    css = client.get("/m/reports/reports.css").get_data(as_text=True)
    phone = css.split("@media (max-width: 600px)")[-1]
    assert ".report-chart .chart-narrow { display: none; }" in css
    assert (
        ".chart-wide { display: none; }" in phone and ".chart-narrow { display: block; }" in phone
    )
