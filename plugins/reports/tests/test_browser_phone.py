"""The report pages on a phone (390 px) in real Chromium: each chart shows its narrow drawing,
whose text reads at 10 px or more, and hides the wide one; a table too wide for the screen
scrolls sideways under its row labels, which stay in view. On a desk's screen, the wide one."""

from __future__ import annotations

import pytest

from core.testing.fixtures import sign_in

pytestmark = pytest.mark.browser

MARCH = "start=2026-03-01&end=2026-03-31"

#: (page, the table that scrolls, the row labels it keeps in view: None for any non-empty)
WIDE_TABLES = [
    (f"/m/reports/recovery?{MARCH}&period=month&group=collector", "recovery_by_group"),
    (f"/m/reports/rankings?{MARCH}", "rankings_collectors"),
]


@pytest.fixture(autouse=True)
def _gauges_installed(with_gauges):
    """The shared world has the gauges module on."""


def narrow_text_px(page) -> list[float]:
    """The on-screen size of every visible chart's text: its font-size × the drawing's scale."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.report-chart svg')]
            .filter(svg => svg.getBoundingClientRect().width > 0)
            .flatMap(svg => {
                const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
                const own = parseFloat(svg.getAttribute('font-size'));
                return [...svg.querySelectorAll('text')].map(
                    t => (parseFloat(t.getAttribute('font-size')) || own) * scale);
            })"""
    )


def test_on_a_phone_the_charts_show_their_narrow_drawing(live_server, browser_page, db, world):
    page = browser_page
    sign_in(page, live_server, world["manager"].username)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/m/reports/recovery?{MARCH}&period=day&group=collector")
    figures = page.locator("figure.report-chart")
    assert figures.count() == 2
    for figure in figures.all():
        assert figure.locator(".chart-narrow svg").is_visible()
        assert figure.locator(".chart-wide svg").is_hidden()
        box = figure.locator(".chart-narrow svg").bounding_box()
        assert 280 <= box["width"] <= 390
    sizes = narrow_text_px(page)
    assert sizes and min(sizes) >= 10, sizes
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0

    page.set_viewport_size({"width": 1000, "height": 900})  # the chart above its table
    for figure in figures.all():
        assert figure.locator(".chart-wide svg").is_visible()
        assert figure.locator(".chart-narrow svg").is_hidden()
    assert min(narrow_text_px(page)) >= 10
    page.set_viewport_size({"width": 1280, "height": 900})  # beside it: the compact drawing
    for figure in figures.all():
        assert figure.locator(".chart-narrow svg").is_visible()
        assert figure.locator(".chart-wide svg").is_hidden()
    assert min(narrow_text_px(page)) >= 10


@pytest.mark.parametrize(("path", "key"), WIDE_TABLES)
def test_on_a_phone_a_wide_table_scrolls_under_its_row_labels(
    live_server, browser_page, db, world, path, key
):
    page = browser_page
    sign_in(page, live_server, world["manager"].username)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server + path)
    wrap = page.locator(f"#table-{key} .table-wrap")
    wrap.evaluate("w => w.scrollIntoView({block: 'start'})")  # its rows on the screen
    assert wrap.evaluate("w => w.scrollWidth > w.clientWidth"), "the table fits: nothing to test"
    labels = wrap.locator("tbody td.pin, tfoot td.pin")
    assert labels.count() >= 2
    before = labels.all_inner_texts()
    assert all(text.strip() for text in before[: wrap.locator("tbody tr").count()])
    last = wrap.locator("tbody tr").first.locator("td").last
    last_x = last.bounding_box()["x"]

    wrap.evaluate("w => { w.scrollLeft = w.scrollWidth; }")
    assert wrap.evaluate("w => w.scrollLeft") > 0
    assert last.bounding_box()["x"] < last_x  # the figures moved
    frame = wrap.bounding_box()
    for label in labels.all():
        box = label.bounding_box()
        assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"]
        # Nothing scrolled over it: the label is what is seen at its place.
        centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        seen = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y).closest('td')?.className", centre
        )
        assert "pin" in (seen or "")
    assert labels.all_inner_texts() == before
