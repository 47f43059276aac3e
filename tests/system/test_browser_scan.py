"""Codes at the shelf, in a real browser (tests/browser.py): a clerk gives a
member a code on its page, and a scanner (which types the code and presses
Enter) finds it from the Scan page, at a phone's and a laptop's width.

Each test checks what the person sees and then what is stored, read back
through the JSON API.
"""

from __future__ import annotations

import re

import pytest
from browser import overflow_px, screenshot, serious_violations
from playwright.sync_api import expect
from test_browser import api_caller
from test_browser_stock import api_reader, tab_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EAN = "4006381333931"


def looks_right(tab, name: str, width: int) -> None:
    screenshot(tab, name, width)
    assert overflow_px(tab) <= 0, f"{name} scrolls sideways at {width} px"
    assert serious_violations(tab) == [], (name, width)


@pytest.mark.parametrize("width", (360, 1280))
def test_a_code_set_on_the_member_page_is_found_by_a_scanner(
    chromium, site, make_token, width
):
    api = api_caller(site, make_token)
    api("PUT", "/stock/shelf", {"bolts": 1200, "washers": 4})
    read = api_reader(site, make_token)
    with tab_of(chromium, site, "clerk", width) as tab:
        tab.goto("/collections/shelf/members/washers")
        tab.get_by_role("textbox", name="Code", exact=True).fill(EAN)
        tab.get_by_role("button", name="Set code").click()
        expect(tab.get_by_role("status")).to_have_text(f"Code of washers set to {EAN}.")
        looks_right(tab, "member-code", width)
        assert read("/stock/shelf/washers/code") == (200, EAN)

        # The scanner: the Scan link, then the code typed and Enter.
        if width < 768:
            tab.get_by_role("link", name="Menu").click()
        tab.get_by_role("link", name="Scan", exact=True).click()
        field = tab.get_by_label("Code", exact=True)
        expect(field).to_be_focused()
        looks_right(tab, "scan", width)
        tab.keyboard.type(EAN)
        tab.keyboard.press("Enter")
        expect(tab).to_have_url(
            re.compile(r"/collections/shelf/members/washers\?scanned=1$")
        )
        expect(tab.get_by_role("heading", level=1)).to_have_text("washers")

        # A code nobody carries is said, with the field to try again.
        tab.goto("/scan")
        # (Chromium applies autofocus after the load, at its next rendering.)
        expect(field).to_be_focused()
        tab.keyboard.type("96385074")
        tab.keyboard.press("Enter")
        expect(tab.get_by_role("alert")).to_have_text(
            "No member carries the code 96385074."
        )
        expect(tab.get_by_label("Code", exact=True)).to_have_value("96385074")
        looks_right(tab, "scan-none", width)
