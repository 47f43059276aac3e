"""The pages in a real browser, used the way a person uses them (tests/browser.py)."""

from __future__ import annotations

import pytest
from browser import WIDTHS, overflow_px, screenshot, serious_violations
from helpers import log_in_as
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def fill_add_collection(page, collection: str, member: str, quantity: str) -> None:
    """Fill the add-collection form by its labels and submit it."""
    page.get_by_label("Collection").fill(collection)
    page.get_by_label("Member").fill(member)
    page.get_by_label("Quantity").fill(quantity)
    page.get_by_role("button", name="Add collection").click()


def test_a_clerk_logs_in_adds_a_collection_and_logs_out(page, stored):
    page.goto("/")
    # Closed to anonymous callers: to the log-in page, coming back here after.
    expect(page).to_have_url("/log-in?next=/")
    page.get_by_label("Name").fill("clerk")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url("/")
    expect(page.get_by_role("heading", name="Stock", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Logged in as clerk (clerk).")
    # The header says who is logged in, on every page.
    expect(page.get_by_text("clerk (clerk)", exact=True)).to_be_visible()
    expect(page.get_by_text("No stock yet.")).to_be_visible()

    page.get_by_role("link", name="Add a collection").first.click()
    fill_add_collection(page, "fruit", "apple", "30")
    expect(page.get_by_role("status")).to_have_text("Collection fruit created")
    # The message links to it, and so does the table beside the form.
    expect(page.get_by_role("link", name="fruit", exact=True)).to_have_count(2)
    assert stored() == {"fruit": {"apple": 30}}

    page.get_by_role("button", name="Log out").click()
    page.goto("/")
    expect(page).to_have_url("/log-in?next=/")


def test_a_wrong_password_is_told_and_nothing_opens(page):
    log_in_as(page, "clerk", "not the password")
    expect(page.get_by_role("alert")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url("/log-in?next=/")


def test_a_bad_quantity_is_told_next_to_its_field(page, stored):
    log_in_as(page, "clerk")
    page.goto("/add-collection")
    fill_add_collection(page, "fruit", "apple", "-3")
    quantity = page.get_by_label("Quantity")
    expect(quantity).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#qty-error")).to_contain_text("whole number")
    assert stored() == {}


def test_a_viewer_sees_no_write_controls(page):
    log_in_as(page, "viewer")
    expect(page.get_by_text("viewer (viewer)", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Add a collection")).to_have_count(0)
    response = page.goto("/add-collection")
    assert response is not None and response.status == 403


def test_the_form_works_with_the_keyboard_alone(page, stored):
    page.goto("/log-in")
    page.get_by_label("Name").focus()
    page.keyboard.type("clerk")
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery staple")
    page.keyboard.press("Enter")
    expect(page).to_have_url("/")


def test_low_stock_appears_and_clears(page, site, make_token):
    api = api_caller(site, make_token)
    api("PUT", "/stock/fruit", {"apple": 3, "pear": 9})
    api("PUT", "/stock/fruit/apple/reorder-level", 5)
    log_in_as(page, "clerk")
    page.get_by_role("link", name="Low stock: 1").click()
    expect(page).to_have_url("/low-stock")
    expect(page.get_by_role("heading", name="Low stock", level=1)).to_be_visible()
    row = page.get_by_role("row").filter(has_text="apple")
    expect(row.get_by_role("cell")).to_have_text(["fruit", "apple", "3", "5", "2"])
    expect(page.get_by_role("cell", name="pear")).to_have_count(0)
    api("POST", "/stock/fruit/apple/adjustments", {"delta": 10})
    page.reload()
    expect(page.get_by_text("No member is low.")).to_be_visible()
    page.get_by_role("link", name="Stock", exact=True).click()
    expect(page.get_by_role("link", name="Low stock: 0")).to_be_visible()


def test_history_shows_who_did_each_step(page, site, make_token):
    log_in_as(page, "clerk")
    page.goto("/add-collection")
    fill_add_collection(page, "fruit", "apple", "30")
    as_admin = api_caller(site, make_token, user="admin")
    as_admin("POST", "/stock/fruit/apple/adjustments", {"delta": -3, "reason": "sold"})

    page.goto("/")
    page.get_by_role("link", name="fruit", exact=True).click()
    page.get_by_text("More for fruit", exact=True).click()
    page.get_by_role("link", name="History of fruit").click()
    expect(page).to_have_url("/collections/fruit/history")
    entries = page.locator(".movements li")
    # Newest first: the admin's sale, then the clerk's creation.
    expect(entries).to_have_count(2)
    expect(entries.nth(0)).to_contain_text("apple: 30 → 27 (taken) — sold")
    expect(entries.nth(0)).to_contain_text("by admin")
    expect(entries.nth(1)).to_contain_text("apple: new → 30 (created)")
    expect(entries.nth(1)).to_contain_text("by clerk")
    # A member's name leads to its own page, and on to all its history.
    entries.nth(0).get_by_role("link", name="apple").click()
    expect(page).to_have_url("/collections/fruit/members/apple")
    expect(page.get_by_role("heading", level=1)).to_have_text("apple")
    page.get_by_role("link", name="Its history").click()
    expect(page).to_have_url("/collections/fruit/members/apple/history")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "History of apple in fruit"
    )


def api_caller(site, make_token, user: str = "clerk"):
    """Call the JSON API of ``site`` as ``user``; each call must succeed."""
    token = make_token(user, "write")

    def call(method: str, path: str, body=None) -> None:
        reply = site.request(
            method, path, body, headers={"Authorization": f"Bearer {token}"}
        )
        assert reply.status < 300, (method, path, reply.status, reply.body)

    return call


PAGES = {
    # name: (who is logged in, path)
    "log-in": (None, "/log-in"),
    "stock": ("clerk", "/"),
    "add-collection": ("clerk", "/add-collection"),
    "low-stock": ("clerk", "/low-stock"),
    "history": ("clerk", "/collections/shelf/history"),
    "member": ("clerk", "/collections/shelf/members/washers"),
    "member-viewer": ("viewer", "/collections/shelf/members/washers"),
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_each_page_fits_every_width_and_passes_axe(chromium, site, make_token, name):
    user, path = PAGES[name]
    api = api_caller(site, make_token)
    # Something on every page: a collection with a low member.
    api("PUT", "/stock/shelf", {"bolts": 120, "washers": 4})
    api("PUT", "/stock/shelf/washers/reorder-level", 50)
    for width in WIDTHS:
        context = chromium.new_context(
            base_url=f"http://127.0.0.1:{site.port}",
            viewport={"width": width, "height": 800},
        )
        page = context.new_page()
        try:
            if user is not None:
                log_in_as(page, user)
            page.goto(path)
            screenshot(page, name, width)
            assert overflow_px(page) <= 0, f"{name} scrolls sideways at {width} px"
            assert serious_violations(page) == [], (name, width)
        finally:
            context.close()
