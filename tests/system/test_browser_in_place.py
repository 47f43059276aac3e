"""Edits in place, in a real browser (tests/browser.py): the clerk adjusts a
member deep in a long page and stays where they were, and hears and sees the
outcome where they are looking, at a phone's width and a laptop's.

Each test checks what the person sees, then what is stored, read back through
the JSON API.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from browser import ARTIFACTS, HEIGHT, overflow_px, serious_violations
from helpers import bearer
from playwright.sync_api import expect
from test_browser import api_caller
from test_browser_stock import member_row, quantity_cell, tab_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# 200 members, m001 … m200, 100 of each; the page shows 50 by name.
SHELF = {f"m{number:03}": 100 for number in range(1, 201)}
DEEP = "m030"  # the 30th row of the first page


# How long the browser may still be scrolling once what the clerk reads is
# there: to a fragment after a load, or by notice.js when htmx has settled a
# swap (20 ms after it). A position is read until it holds, as ``expect`` reads
# a text.
SCROLL_WAIT_S = 5


def eventually(page, holds: Callable[[], bool]) -> bool:
    """Whether ``holds()`` is true within ``SCROLL_WAIT_S``."""
    deadline = time.monotonic() + SCROLL_WAIT_S
    while not holds():
        if time.monotonic() >= deadline:
            return False
        page.wait_for_timeout(50)
    return True


def in_viewport(page, locator) -> bool:
    """Whether ``locator``'s box comes wholly inside the window."""

    def inside() -> bool:
        box = locator.bounding_box()
        return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT

    return eventually(page, inside)


def clear_of(page, locator, notice) -> bool:
    """Whether ``locator``'s box comes to end above the notice pinned to the bottom."""

    def above() -> bool:
        box, pinned = locator.bounding_box(), notice.bounding_box()
        return box["y"] + box["height"] <= pinned["y"]

    return eventually(page, above)


def stored_quantity(site, make_token, member: str) -> int:
    reply = site.request(
        "GET", f"/stock/shelf/{member}", headers=bearer(make_token("viewer", "read"))
    )
    assert reply.status == 200
    return reply.json()


def answer_to(page, act) -> int:
    """Do ``act`` (a click or a key); the status of the POST it sends."""
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        act()
    response = answer.value
    response.finished()
    return response.status


@pytest.mark.parametrize("width", [360, 1280])
def test_adjusting_a_deep_row_keeps_the_clerk_there_and_says_so(
    chromium, site, make_token, width
):
    api_caller(site, make_token)("PUT", "/stock/shelf", SHELF)
    with tab_of(chromium, site, "clerk", width) as page:
        page.goto("/collections/shelf")
        # A mark on the window: a reload or a new page would lose it.
        page.evaluate("() => { window.stayed = true; }")
        row = member_row(page, DEEP)
        amount = row.get_by_label(f"Amount of {DEEP}", exact=True)
        amount.scroll_into_view_if_needed()
        scrolled = page.evaluate("() => window.scrollY")
        assert scrolled > 0
        amount.fill("2")
        take = row.get_by_role("button", name=f"Take from {DEEP}", exact=True)
        assert answer_to(page, take.click) == 200

        said = "Took 2 from m030: it now holds 98."
        notice = page.locator("#notice .flash")
        expect(notice.locator("span")).to_have_text(said)
        expect(quantity_cell(member_row(page, DEEP))).to_have_text("98")
        expect(member_row(page, DEEP).get_by_text(said)).to_be_visible()
        assert page.evaluate("() => window.stayed") is True
        assert in_viewport(page, member_row(page, DEEP).get_by_text(said))
        assert in_viewport(page, notice)
        assert clear_of(page, member_row(page, DEEP), notice)
        # Scrolled at most enough that the notice hides none of the row.
        assert 0 <= page.evaluate("() => window.scrollY") - scrolled < HEIGHT / 2
        # The focus stays on the button pressed, in the row swapped in.
        assert page.evaluate("() => document.activeElement.id") == "take-30"
        page.screenshot(path=_artifact(f"in-place-success-{width}"))
        assert stored_quantity(site, make_token, DEEP) == 98

        # Taking more than it holds: refused, and said where the eye is.
        row = member_row(page, DEEP)
        row.get_by_label(f"Amount of {DEEP}", exact=True).fill("99")
        take = row.get_by_role("button", name=f"Take from {DEEP}", exact=True)
        assert answer_to(page, take.click) == 409
        why = "Cannot take 99 from m030: it holds only 98. Nothing was changed."
        expect(notice.locator("span")).to_have_text(why)
        alert = member_row(page, DEEP).get_by_role("alert")
        expect(alert).to_have_text(why)
        assert in_viewport(page, alert)
        assert in_viewport(page, notice)
        assert clear_of(page, member_row(page, DEEP), notice)
        assert page.evaluate("() => window.stayed") is True
        page.screenshot(path=_artifact(f"in-place-refused-{width}"))
        assert overflow_px(page) <= 0
        assert serious_violations(page) == []
        assert stored_quantity(site, make_token, DEEP) == 98
        # The clerk puts the notice away.
        notice.get_by_role("button", name="Dismiss").click()
        expect(notice).to_have_count(0)


def test_enter_in_an_amount_takes_it(chromium, site, make_token):
    api_caller(site, make_token)("PUT", "/stock/shelf", SHELF)
    with tab_of(chromium, site, "clerk", 1280) as page:
        page.goto("/collections/shelf")
        amount = member_row(page, "m002").get_by_label("Amount of m002", exact=True)
        amount.fill("7")
        # A hardware scanner types the amount and presses Enter.
        assert answer_to(page, lambda: amount.press("Enter")) == 200
        expect(page.locator("#notice .flash > span")).to_have_text(
            "Took 7 from m002: it now holds 93."
        )
        expect(quantity_cell(member_row(page, "m002"))).to_have_text("93")
        # The focus stays in the amount, emptied for the next one.
        assert page.evaluate("() => document.activeElement.id") == "amount-2"
        expect(member_row(page, "m002").get_by_label("Amount of m002")).to_have_value(
            ""
        )
        assert stored_quantity(site, make_token, "m002") == 93


def test_the_forms_still_work_without_script(chromium, site, make_token):
    api_caller(site, make_token)("PUT", "/stock/shelf", SHELF)
    with tab_of(chromium, site, "clerk", 360, java_script_enabled=False) as page:
        page.goto("/collections/shelf")
        row = member_row(page, "m003")
        row.get_by_label("Amount of m003", exact=True).fill("5")
        add = row.get_by_role("button", name="Add to m003", exact=True)
        assert answer_to(page, add.click) == 303
        expect(page.locator("main .flash")).to_have_text(
            "Added 5 to m003: it now holds 105."
        )
    assert stored_quantity(site, make_token, "m003") == 105


@pytest.mark.parametrize("width", [360, 1280])
def test_without_script_an_edit_comes_back_to_its_row(
    chromium, site, make_token, width
):
    api_caller(site, make_token)("PUT", "/stock/shelf", SHELF)
    with tab_of(chromium, site, "clerk", width, java_script_enabled=False) as page:
        page.goto("/collections/shelf")
        row = member_row(page, DEEP)
        row.get_by_label(f"Amount of {DEEP}", exact=True).fill("2")
        take = row.get_by_role("button", name=f"Take from {DEEP}", exact=True)
        assert answer_to(page, take.click) == 303
        # The page comes back at the row, by its anchor, and says what was
        # done in the notice pinned to the screen.
        expect(page).to_have_url("/collections/shelf#member-30")
        said = page.locator("#notice .flash")
        expect(said).to_have_text("Took 2 from m030: it now holds 98.")
        page.screenshot(path=_artifact(f"no-script-success-{width}"))
        assert in_viewport(page, said)
        cell = quantity_cell(member_row(page, DEEP))
        assert in_viewport(page, cell), cell.bounding_box()
        expect(quantity_cell(member_row(page, DEEP))).to_have_text("98")

        # A refusal: back to the row too (so a reload posts nothing), the
        # refused amount focused, which brings it into view, with why beside it.
        row = member_row(page, DEEP)
        row.get_by_label(f"Amount of {DEEP}", exact=True).fill("99")
        take = row.get_by_role("button", name=f"Take from {DEEP}", exact=True)
        assert answer_to(page, take.click) == 303
        expect(page).to_have_url(re.compile(r"/collections/shelf$"))
        amount = member_row(page, DEEP).get_by_label(f"Amount of {DEEP}", exact=True)
        expect(amount).to_be_focused()
        expect(amount).to_have_value("99")
        alert = member_row(page, DEEP).get_by_role("alert")
        expect(alert).to_have_text(
            "Cannot take 99 from m030: it holds only 98. Nothing was changed."
        )
        assert in_viewport(page, alert) and in_viewport(page, amount)
        page.screenshot(path=_artifact(f"no-script-refused-{width}"))
        # Reloading asks for the page alone: the refusal is not posted again.
        page.reload()
        expect(member_row(page, DEEP).get_by_role("alert")).to_have_count(0)
    assert stored_quantity(site, make_token, DEEP) == 98


def test_a_phones_first_screen_shows_members_and_a_menu(chromium, site, make_token):
    api_caller(site, make_token)("PUT", "/stock/shelf", SHELF)
    with tab_of(chromium, site, "clerk", 360, height=780) as page:
        page.goto("/collections/shelf")
        page.screenshot(path=_artifact("phone-first-screen-360"))
        first = member_row(page, "m001")
        box = first.bounding_box()
        assert box["y"] + box["height"] <= 780, box
        # A row is one short block until its More is opened.
        assert box["height"] <= 80, box
        assert overflow_px(page) <= 0

        # The header's links fold into its menu.
        import_link = page.get_by_role("link", name="Import", exact=True)
        expect(import_link).to_be_hidden()
        page.get_by_role("link", name="Menu", exact=True).click()
        expect(import_link).to_be_visible()
        expect(page.get_by_text("clerk (clerk)", exact=True)).to_be_visible()
        page.screenshot(path=_artifact("phone-menu-open-360"))
        assert serious_violations(page) == []
        page.get_by_role("link", name="Close the menu").click()
        expect(import_link).to_be_hidden()
        import_link_after = page.get_by_role("link", name="Menu", exact=True)
        expect(import_link_after).to_be_visible()


@pytest.mark.parametrize("width", [360, 1280])
def test_two_key_presses_reach_the_first_amount(chromium, site, make_token, width):
    api_caller(site, make_token)("PUT", "/stock/shelf", SHELF)
    with tab_of(chromium, site, "clerk", width) as page:
        page.goto("/collections/shelf")
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to the members")).to_be_focused()
        page.keyboard.press("Enter")
        amount = member_row(page, "m001").get_by_label("Amount of m001", exact=True)
        expect(amount).to_be_focused()
        page.keyboard.type("3")
        assert answer_to(page, lambda: page.keyboard.press("Enter")) == 200
        expect(page.locator("#notice .flash > span")).to_have_text(
            "Took 3 from m001: it now holds 97."
        )
    assert stored_quantity(site, make_token, "m001") == 97


def test_slash_goes_to_the_find_box_and_times_are_local(chromium, site, make_token):
    api_caller(site, make_token)("PUT", "/stock/shelf", SHELF)
    with tab_of(
        chromium, site, "clerk", 1280, timezone_id="Asia/Kolkata", locale="en-GB"
    ) as page:
        page.goto("/collections/shelf")
        find = page.get_by_label("Find members of shelf")
        expect(find).to_have_attribute("aria-keyshortcuts", "/")
        page.keyboard.press("/")
        expect(find).to_be_focused()
        page.keyboard.type("m19")
        page.keyboard.press("Enter")
        expect(page).to_have_url("/collections/shelf?q=m19")
        # Typing "/" in a field types it.
        amount = member_row(page, "m190").get_by_label("Amount of m190", exact=True)
        amount.focus()
        page.keyboard.press("/")
        expect(amount).to_be_focused()

        page.goto("/collections/shelf/members/m001")
        time = page.locator(".movements time").first
        utc = time.get_attribute("datetime")
        # Shown in the viewer's time, the UTC one on hover.
        expect(time).to_have_attribute("title", f"{utc[:10]} {utc[11:19]} UTC")
        hours, minutes = int(utc[11:13]), int(utc[14:16])
        local = (hours * 60 + minutes + 330) % (24 * 60)
        expect(time).to_contain_text(f"{local // 60:02}:{local % 60:02}")


def _artifact(name: str) -> str:
    """Where a viewport's screenshot goes (what the clerk sees, not the page)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")
