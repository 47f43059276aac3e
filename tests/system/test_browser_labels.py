"""Sheets of labels in a real browser (tests/browser.py): printed by Chromium
to PDF (``page.pdf()`` with the page's own ``@page`` size), each sheet has
the right pages, of the right size, with the right labels on each; and the
sheet page, reached from the collection's and the member's pages, looks right
at a phone's, a tablet's and a laptop's width.
"""

from __future__ import annotations

import io
import re

import pytest
from browser import overflow_px, screenshot, serious_violations
from playwright.sync_api import expect
from pypdf import PdfReader
from test_browser import api_caller
from test_browser_stock import tab_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MEMBERS = {f"item-{n:02}": n for n in range(1, 31)}
# PDF points in a millimetre.
PT = 72 / 25.4
_NAME = re.compile(r"item-\d\d")


def printed(tab, url: str) -> list[tuple[tuple[float, float], list[str]]]:
    """The sheet at ``url`` printed to PDF as Chromium prints it: each page's
    size to the mm (Chromium rounds it to whole points) and the member names
    on it, in order."""
    tab.goto(url)
    expect(tab.get_by_role("button", name="Print")).to_be_visible()
    pdf = PdfReader(io.BytesIO(tab.pdf(prefer_css_page_size=True)))
    # Printed, the page's chrome is gone: no header, heading, form or caption.
    chrome = ("stockapp", "Labels of", "Sheet", "Print", "Page 1 of")
    for page in pdf.pages:
        assert not [words for words in chrome if words in page.extract_text()]
    return [
        (
            (
                round(float(page.mediabox.width) / PT),
                round(float(page.mediabox.height) / PT),
            ),
            _NAME.findall(page.extract_text()),
        )
        for page in pdf.pages
    ]


@pytest.fixture
def shelf(site, make_token):
    api = api_caller(site, make_token)
    api("PUT", "/stock/shelf", MEMBERS)
    api("PUT", "/stock/shelf/item-01/code", "4006381333931")
    api("PUT", "/stock/shelf/item-02/code", "SHELF-A7")
    return sorted(MEMBERS)


def test_thirty_labels_print_on_two_a4_sheets_of_24(chromium, site, shelf):
    with tab_of(chromium, site, "viewer") as tab:
        pages = printed(tab, "/collections/shelf/labels?sheet=a4-3x8")
    assert pages == [((210, 297), shelf[:24]), ((210, 297), shelf[24:])]


def test_thirty_labels_fill_one_letter_sheet(chromium, site, shelf):
    with tab_of(chromium, site, "viewer") as tab:
        pages = printed(tab, "/collections/shelf/labels?sheet=letter-3x10")
    assert pages == [((216, 279), shelf)]


def test_a_roll_prints_each_label_chosen_on_a_page_of_its_own(chromium, site, shelf):
    url = "/collections/shelf/labels?sheet=roll-62x29"
    with tab_of(chromium, site, "viewer") as tab:
        pages = printed(tab, f"{url}&member=item-03&member=item-01&member=item-02")
    assert pages == [
        ((62, 29), ["item-03"]),
        ((62, 29), ["item-01"]),
        ((62, 29), ["item-02"]),
    ]


@pytest.mark.parametrize("width", (360, 768, 1280))
def test_the_sheet_page_is_reached_from_the_collection_and_the_member(
    chromium, site, shelf, width
):
    with tab_of(chromium, site, "clerk", width) as tab:
        tab.goto("/collections/shelf")
        tab.get_by_text("More for shelf").click()
        tab.get_by_role("link", name="Print labels of shelf…").click()
        expect(tab.get_by_role("heading", level=1)).to_have_text("Labels of shelf")
        expect(tab.locator("#sheet-summary")).to_have_text(
            "30 labels, one for each member, on 2 pages of A4, 24 labels of"
            " 70 × 37 mm (3 × 8, like Avery 3474)."
        )
        expect(tab.locator("figure.sheet-page")).to_have_count(2)
        looks_right(tab, "labels-sheet", width)

        # Another sheet, for the same labels.
        tab.get_by_label("Sheet").select_option("letter-3x10")
        tab.get_by_role("button", name="Lay out").click()
        expect(tab).to_have_url(re.compile(r"sheet=letter-3x10"))
        expect(tab.locator("figure.sheet-page")).to_have_count(1)

        tab.goto("/collections/shelf/members/item-01")
        tab.get_by_role("link", name="Print its label…").click()
        expect(tab.locator("#sheet-summary")).to_have_text(
            "1 label of the members chosen, on 1 page of A4, 24 labels of"
            " 70 × 37 mm (3 × 8, like Avery 3474)."
        )
        expect(tab.get_by_role("button", name="Print")).to_be_visible()
        looks_right(tab, "labels-member", width)


def looks_right(tab, name: str, width: int) -> None:
    screenshot(tab, name, width)
    assert overflow_px(tab) <= 0, f"{name} scrolls sideways at {width} px"
    assert serious_violations(tab) == [], (name, width)
