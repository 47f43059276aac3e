"""Stock over time in a real browser (tests/browser.py): a member's chart on its
page and a collection's on its own page, at a phone's, a tablet's and a
laptop's width, in light and dark, with the table of the same figures.

The history is logged through the API and then, for the past weeks, written
straight into the movement log (nothing in the API logs a movement in the
past), so that the chart has something to draw.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from browser import WIDTHS, overflow_px, screenshot, serious_violations
from playwright.sync_api import expect
from test_browser import api_caller
from test_browser_stock import tab_of

from stockapp.core.clock import utcnow
from stockapp.core.extensions import db
from stockapp.history.models import Movement

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def looks_right(tab, name: str, width: int) -> None:
    screenshot(tab, name, width)
    assert overflow_px(tab) <= 0, f"{name} scrolls sideways at {width} px"
    assert serious_violations(tab) == [], (name, width)


@pytest.fixture
def shelf(app, site, make_token):
    """bolts of shelf, with four weeks of takes and deliveries behind it and a
    reorder level that rose midway."""
    api = api_caller(site, make_token)
    api("PUT", "/stock/shelf", {"bolts": 40, "washers": 4})
    now = utcnow()
    quantity, rows = 60, []
    for day in range(28, 0, -1):
        at = now - timedelta(days=day, hours=3)
        after = quantity + 35 if quantity < 20 else quantity - 4 - day % 5
        rows.append(
            Movement(
                collection="shelf",
                member="bolts",
                kind="adjust",
                before=quantity,
                after=after,
                at=at,
            )
        )
        quantity = after
        if day in (20, 10):
            rows.append(
                Movement(
                    collection="shelf",
                    member="bolts",
                    kind="level",
                    before=quantity,
                    after=quantity,
                    level_before=None if day == 20 else 15,
                    level_after=15 if day == 20 else 20,
                    at=at + timedelta(minutes=1),
                )
            )
    with app.app_context():
        db.session.add_all(rows)
        db.session.commit()
    api("PUT", "/stock/shelf/bolts/reorder-level", 20)
    return site


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_member_page_shows_its_chart_and_its_figures(chromium, shelf, scheme):
    for width in WIDTHS:
        with tab_of(chromium, shelf, "clerk", width, color_scheme=scheme) as tab:
            tab.goto("/collections/shelf/members/bolts")
            chart = tab.get_by_role(
                "img", name="Quantity of bolts in shelf over the last 30 days"
            )
            expect(chart).to_be_visible()
            box = chart.bounding_box()
            # As wide as the page allows, up to 32rem; never a sliver.
            assert box is not None and min(width - 32, 512) - 40 <= box["width"] <= 512
            tab.get_by_text("The figures", exact=True).click()
            table = tab.get_by_role(
                "table", name="Quantity of bolts in shelf over the last 30 days"
            )
            expect(table.get_by_role("row")).to_have_count(32)
            expect(table.get_by_role("row").last).to_contain_text("40")
            expect(table.get_by_role("row").last).to_contain_text("20")
            looks_right(tab, f"trend-member-{scheme}", width)

            tab.get_by_role("link", name="7 days").click()
            expect(tab.get_by_role("link", name="7 days")).to_have_attribute(
                "aria-current", "true"
            )
            expect(
                tab.get_by_role(
                    "img", name="Quantity of bolts in shelf over the last 7 days"
                )
            ).to_be_visible()
            tab.get_by_role("link", name="A year").click()
            expect(
                tab.get_by_role(
                    "img", name="Quantity of bolts in shelf over the last year"
                )
            ).to_be_visible()
            looks_right(tab, f"trend-member-year-{scheme}", width)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_collection_chart_is_one_link_from_its_page(chromium, shelf, scheme):
    for width in WIDTHS:
        with tab_of(chromium, shelf, "viewer", width, color_scheme=scheme) as tab:
            tab.goto("/collections/shelf")
            tab.get_by_text("More for shelf").click()
            tab.get_by_role("link", name="Stock over time of shelf").click()
            expect(tab.get_by_role("heading", level=1)).to_have_text(
                "Stock over time of shelf"
            )
            expect(
                tab.get_by_role("img", name="Quantity of shelf over the last 30 days")
            ).to_be_visible()
            tab.get_by_text("The figures", exact=True).click()
            rows = tab.get_by_role("table").get_by_role("row")
            expect(rows).to_have_count(32)
            expect(rows.last).to_contain_text("44")
            looks_right(tab, f"trend-collection-{scheme}", width)
