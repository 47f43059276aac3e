"""The overview's sorts and low counts, and the low-stock page's shortfall and
CSV download, in a real browser at a phone's and a laptop's width
(tests/browser.py).

Each test checks what the person sees and then what is stored, read back
through the JSON API.
"""

from __future__ import annotations

import pytest
from browser import overflow_px, screenshot, serious_violations
from playwright.sync_api import expect
from test_browser import api_caller
from test_browser_stock import api_reader, tab_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = (360, 1280)


def stock_with_low_members(site, make_token) -> None:
    """Three collections of different sizes, some members low."""
    api = api_caller(site, make_token)
    api("PUT", "/stock/shelf", {"bolts": 1200, "washers": 4, "nuts": 30})
    api("PUT", "/stock/apples", {"cox": 12_000})
    api("PUT", "/stock/bins", {"small": 0, "large": 9})
    for path, level in [
        ("shelf/washers", 50),
        ("shelf/nuts", 30),
        ("bins/small", 2_500),
    ]:
        api("PUT", f"/stock/{path}/reorder-level", level)


def table_rows(tab) -> list[list[str]]:
    """The text of each body row of the page's table, cell by cell (what is
    said only to a screen reader included)."""
    rows = tab.locator("table tbody tr")
    return [
        [cell.strip() for cell in row.locator("th, td").all_text_contents()]
        for row in rows.all()
    ]


def open_sorts(tab) -> None:
    """Unfold the page's sorts (folded under the current one's name)."""
    tab.locator("details.view > summary").click()


def looks_right(tab, name: str, width: int) -> None:
    screenshot(tab, name, width)
    assert overflow_px(tab) <= 0, f"{name} scrolls sideways at {width} px"
    assert serious_violations(tab) == [], (name, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_overview_sorts_by_name_and_by_size_and_counts_low_members(
    chromium, site, make_token, width
):
    stock_with_low_members(site, make_token)
    with tab_of(chromium, site, "viewer", width) as tab:
        tab.goto("/")
        # Oldest first, with thousands separators and the low counts.
        assert table_rows(tab) == [
            ["shelf", "3", "1,234", "2 low in shelf"],
            ["apples", "1", "12,000", "— none low"],
            ["bins", "2", "9", "1 low in bins"],
        ]
        open_sorts(tab)
        tab.get_by_role("link", name="Name A–Z").click()
        expect(tab).to_have_url("/?sort=name")
        # The sorts fold back under the current one, which they mark.
        expect(tab.locator("details.view > summary")).to_have_text("Name A–Z")
        current = tab.locator('nav.sorts a[aria-current="true"]')
        assert current.text_content() == "Name A–Z"
        assert [row[0] for row in table_rows(tab)] == ["apples", "bins", "shelf"]
        open_sorts(tab)
        tab.get_by_role("link", name="Most members first").click()
        expect(tab).to_have_url("/?sort=members")
        assert [row[0] for row in table_rows(tab)] == ["shelf", "bins", "apples"]
        looks_right(tab, "overview", width)
        # A low count leads to that collection's low members.
        tab.get_by_role("link", name="2 low in shelf").click()
        expect(tab).to_have_url("/low-stock?collection=shelf")
        assert [row[1] for row in table_rows(tab)] == ["washers", "nuts"]


@pytest.mark.parametrize("width", WIDTHS)
def test_the_low_stock_page_shows_shortfalls_sorts_and_downloads(
    chromium, site, make_token, width
):
    stock_with_low_members(site, make_token)
    read = api_reader(site, make_token)
    with tab_of(chromium, site, "viewer", width) as tab:
        tab.goto("/low-stock")
        assert table_rows(tab) == [
            ["shelf", "washers", "4", "50", "46"],
            ["shelf", "nuts", "30", "30", "0"],
            ["bins", "small", "0", "2,500", "2,500"],
        ]
        open_sorts(tab)
        tab.get_by_role("link", name="Largest shortfall first").click()
        expect(tab).to_have_url("/low-stock?sort=shortfall")
        assert [row[1] for row in table_rows(tab)] == ["small", "washers", "nuts"]
        looks_right(tab, "low-stock", width)
        with tab.expect_download() as download:
            tab.get_by_role("link", name="Download as CSV").click()
        assert download.value.suggested_filename == "low-stock.csv"
        with open(download.value.path(), encoding="utf-8", newline="") as csv_file:
            assert csv_file.read() == (
                "collection,member,quantity,reorder_level,shortfall\r\n"
                "bins,small,0,2500,2500\r\n"
                "shelf,washers,4,50,46\r\n"
                "shelf,nuts,30,30,0\r\n"
            )
    # What the page showed is what is stored.
    assert read("/low-stock?sort=shortfall") == (
        200,
        {
            "low_stock": [
                {
                    "collection": "bins",
                    "member": "small",
                    "quantity": 0,
                    "reorder_level": 2500,
                },
                {
                    "collection": "shelf",
                    "member": "washers",
                    "quantity": 4,
                    "reorder_level": 50,
                },
                {
                    "collection": "shelf",
                    "member": "nuts",
                    "quantity": 30,
                    "reorder_level": 30,
                },
            ]
        },
    )
