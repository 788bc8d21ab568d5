"""Server-side SVG charts: parsed back with xml.etree, their points, bars and slices match
the table's values; titles are escaped; an empty table says so instead of drawing nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from plugins.reports import charts
from plugins.reports.framework import INT, MONEY, RATE, TEXT, Chart, Column, Table

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup))


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
