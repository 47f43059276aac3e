"""The collection, search, delete, token and user pages in a real browser, used
the way a clerk, a viewer and an admin use them (tests/browser.py).

Each test checks what the person sees and then what is stored, read back through
the JSON API or straight from the tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from browser import (
    HEIGHT,
    WIDTHS,
    overflow_px,
    press,
    screenshot,
    serious_violations,
)
from helpers import bearer, log_in_as
from playwright.sync_api import expect
from test_browser import api_caller, fill_add_collection

pytestmark = [pytest.mark.browser, pytest.mark.slow]


# Helpers --------------------------------------------------------------------


@contextmanager
def tab_of(
    chromium,
    site,
    user: str | None,
    width: int = 1280,
    height: int = HEIGHT,
    **options,
) -> Iterator:
    """A tab in a browser context of its own (its own cookies), ``user`` logged
    in; ``options`` go to the context (no script, a time zone...)."""
    context = chromium.new_context(
        base_url=f"http://127.0.0.1:{site.port}",
        viewport={"width": width, "height": height},
        **options,
    )
    try:
        tab = context.new_page()
        if user is not None:
            log_in_as(tab, user)
            # (On a phone the header's "who" is folded into its menu.)
            expect(tab.get_by_role("status")).to_have_text(
                f"Logged in as {user} ({user})."
            )
        yield tab
    finally:
        context.close()


def api_reader(site, make_token, user: str = "viewer"):
    """GET from the JSON API of ``site`` as ``user``: (status, JSON body)."""
    token = make_token(user, "read")

    def read(path: str):
        reply = site.request("GET", path, headers=bearer(token))
        return reply.status, reply.json()

    return read


def member_row(page, member: str):
    """The row of the members table whose header is ``member``."""
    header = page.get_by_role("rowheader", name=member, exact=True)
    return page.get_by_role("row").filter(has=header)


def quantity_cell(row):
    """The first cell after the member's name: its quantity (and "low")."""
    return row.get_by_role("cell").first


def adjust(page, member: str, amount: str, reason: str, direction: str) -> int:
    """Fill a member's Amount and Reason and press − ("Take") or + ("Add")."""
    row = member_row(page, member)
    # Each row's fields name their member, for a screen reader.
    row.get_by_label(f"Amount of {member}", exact=True).fill(amount)
    if reason:
        field = row.get_by_label(f"Reason for {member}", exact=True)
        if not field.is_visible():
            # On a phone the reason waits under More.
            row.get_by_text(f"More for {member}", exact=True).click()
        field.fill(reason)
    preposition = "from" if direction == "Take" else "to"
    name = f"{direction} {preposition} {member}"
    return press(page, row.get_by_role("button", name=name, exact=True))


def more_for(page, member: str):
    """Open the member's "More for …" disclosure; its row."""
    row = member_row(page, member)
    row.get_by_text(f"More for {member}", exact=True).click()
    return row


def set_field(page, member: str, label: str, value: str, button: str) -> int:
    """Under "More for <member>", type ``value`` into ``label`` and press ``button``."""
    row = more_for(page, member)
    row.get_by_label(f"{label} of {member}", exact=True).fill(value)
    return press(page, row.get_by_role("button", name=button, exact=True))


def tab_to(page, target, most: int = 60) -> None:
    """Press Tab until ``target`` has the focus (at most ``most`` times)."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    pytest.fail(f"{target} never got the focus in {most} presses of Tab")


def flash(page):
    """The flashed message a page shows after a success."""
    return page.get_by_role("status")


def said(page):
    """What the live region says of an edit made in place (htmx)."""
    return page.locator("#notice .flash > span")


def history_entries(page):
    """The movements of a history page, newest first."""
    return page.get_by_role("main").get_by_role("listitem")


# A clerk's day --------------------------------------------------------------


def test_a_clerks_day_from_a_new_collection_to_its_history(
    page, site, make_token, stored
):
    read = api_reader(site, make_token)
    log_in_as(page, "clerk")
    expect(flash(page)).to_have_text("Logged in as clerk (clerk).")

    # A new collection, through the add-collection form.
    page.get_by_role("link", name="Add a collection").first.click()
    fill_add_collection(page, "fruit", "apple", "30")
    expect(flash(page)).to_have_text("Collection fruit created")
    page.get_by_role("link", name="Stock", exact=True).click()
    page.get_by_role("link", name="fruit", exact=True).click()
    expect(page).to_have_url("/collections/fruit")
    expect(page.get_by_role("heading", name="fruit", level=1)).to_be_visible()

    # A second member, through "Add a member" (folded away until opened).
    expect(page.get_by_label("Member", exact=True)).to_be_hidden()
    page.get_by_text("Add a member", exact=True).click()
    page.get_by_label("Member", exact=True).fill("pear")
    page.get_by_label("Quantity", exact=True).fill("12")
    assert press(page, page.get_by_role("button", name="Add member")) == 303
    expect(flash(page)).to_have_text("pear added to fruit with 12.")
    expect(quantity_cell(member_row(page, "pear"))).to_have_text("12")
    assert stored() == {"fruit": {"apple": 30, "pear": 12}}

    # Up and down, with reasons, each answered in place.
    assert adjust(page, "apple", "5", "delivery", "Add") == 200
    expect(said(page)).to_have_text("Added 5 to apple: it now holds 35.")
    assert adjust(page, "apple", "10", "sold", "Take") == 200
    expect(said(page)).to_have_text("Took 10 from apple: it now holds 25.")
    expect(quantity_cell(member_row(page, "apple"))).to_have_text("25")
    assert stored() == {"fruit": {"apple": 25, "pear": 12}}

    # More than there is: told beside the row, nothing taken.
    assert adjust(page, "pear", "100", "sold", "Take") == 409
    pear = member_row(page, "pear")
    expect(pear.get_by_role("alert")).to_have_text(
        "Cannot take 100 from pear: it holds only 12. Nothing was changed."
    )
    expect(quantity_cell(pear)).to_have_text("12")
    expect(said(page)).to_have_text(
        "Cannot take 100 from pear: it holds only 12. Nothing was changed."
    )
    assert stored() == {"fruit": {"apple": 25, "pear": 12}}

    # A reorder level puts pear on the low-stock list; clearing it takes it off.
    assert set_field(page, "pear", "Reorder level", "15", "Set reorder level") == 200
    expect(said(page)).to_have_text("Reorder level of pear set to 15.")
    expect(quantity_cell(member_row(page, "pear"))).to_have_text("12 low")
    assert read("/stock/fruit/pear/reorder-level") == (200, 15)
    page.get_by_role("link", name="Low stock", exact=True).click()
    low = page.get_by_role("row").filter(has_text="pear")
    expect(low.get_by_role("cell")).to_have_text(["fruit", "pear", "12", "15", "3"])
    page.go_back()
    assert set_field(page, "pear", "Reorder level", "", "Set reorder level") == 200
    expect(said(page)).to_have_text("Reorder level of pear cleared.")
    expect(quantity_cell(member_row(page, "pear"))).to_have_text("12")
    assert read("/stock/fruit/pear/reorder-level") == (200, None)
    page.get_by_role("link", name="Low stock", exact=True).click()
    expect(page.get_by_text("No member is low.")).to_be_visible()
    page.go_back()

    # The admin sells some through the API meanwhile.
    as_admin = api_caller(site, make_token, user="admin")
    as_admin("POST", "/stock/fruit/apple/adjustments", {"delta": -3, "reason": "gift"})
    page.reload()
    expect(quantity_cell(member_row(page, "apple"))).to_have_text("22")

    # Deleting pear, after its confirmation page.
    more_for(page, "pear").get_by_role("link", name="Delete pear…").click()
    expect(page).to_have_url("/collections/fruit/members/pear/delete")
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete pear from fruit?")
    expect(page.get_by_text("pear holds 12. Its history is kept.")).to_be_visible()
    assert press(page, page.get_by_role("button", name="Delete pear")) == 303
    expect(page).to_have_url("/collections/fruit")
    expect(flash(page)).to_have_text("pear deleted from fruit.")
    expect(page.get_by_role("rowheader", name="pear")).to_have_count(0)
    assert stored() == {"fruit": {"apple": 22}}

    # The history names who did each step, newest first.
    page.get_by_text("More for fruit", exact=True).click()
    page.get_by_role("link", name="History of fruit").click()
    expect(page).to_have_url("/collections/fruit/history")
    entries = history_entries(page)
    expect(entries).to_have_count(8)
    steps = [
        ("pear: 12 → removed (deleted)", "by clerk"),
        ("apple: 25 → 22 (taken) — gift", "by admin"),
        ("pear: level 15 → none (reorder level)", "by clerk"),
        ("pear: level none → 15 (reorder level)", "by clerk"),
        ("apple: 35 → 25 (taken) — sold", "by clerk"),
        ("apple: 30 → 35 (added) — delivery", "by clerk"),
        ("pear: new → 12 (created)", "by clerk"),
        ("apple: new → 30 (created)", "by clerk"),
    ]
    for entry, (change, who) in zip(entries.all(), steps, strict=True):
        expect(entry).to_contain_text(change)
        expect(entry).to_contain_text(who)

    page.get_by_role("button", name="Log out").click()
    page.goto("/collections/fruit")
    expect(page).to_have_url("/log-in?next=/collections/fruit")


# Two people at once ---------------------------------------------------------


def test_a_stale_set_is_refused_and_a_stale_take_is_not(
    chromium, site, make_token, stored
):
    api_caller(site, make_token)("PUT", "/stock/fruit", {"apple": 30})
    with (
        tab_of(chromium, site, "clerk") as first,
        tab_of(chromium, site, "admin") as second,
    ):
        first.goto("/collections/fruit")
        second.goto("/collections/fruit")

        assert set_field(first, "apple", "New quantity", "40", "Set quantity") == 200
        expect(said(first)).to_have_text("apple set to 40.")
        assert stored() == {"fruit": {"apple": 40}}

        # The second page still shows 30 and sends that version with a set.
        expect(quantity_cell(member_row(second, "apple"))).to_have_text("30")
        status = set_field(second, "apple", "New quantity", "7", "Set quantity")
        assert status == 409
        apple = member_row(second, "apple")
        why = (
            "apple was changed meanwhile (the last change in its history is by"
            " clerk): it now holds 40. Nothing was changed; check it and try again."
        )
        expect(apple.get_by_role("alert")).to_have_text(f"{why} History of apple")
        expect(said(second)).to_have_text(why)
        expect(apple.get_by_role("link", name="History of apple")).to_have_attribute(
            "href", "/collections/fruit/members/apple/history"
        )
        expect(quantity_cell(apple)).to_have_text("40")
        # The first's value stands: nothing lost, nothing overwritten.
        assert stored() == {"fruit": {"apple": 40}}

        # The row now carries the current version: sent again, the set is made.
        button = apple.get_by_role("button", name="Set quantity")
        assert press(second, button) == 200
        expect(said(second)).to_have_text("apple set to 7.")
        assert stored() == {"fruit": {"apple": 7}}

        # A take needs no version: from a page that still shows 40, taking 5
        # takes 5 from what it holds now.
        expect(quantity_cell(member_row(first, "apple"))).to_have_text("40")
        assert adjust(first, "apple", "5", "sold", "Take") == 200
        expect(said(first)).to_have_text("Took 5 from apple: it now holds 2.")
        expect(quantity_cell(member_row(first, "apple"))).to_have_text("2")
        assert stored() == {"fruit": {"apple": 2}}


# Tokens ---------------------------------------------------------------------


def test_a_token_made_on_the_page_is_copied_used_and_revoked(chromium, site):
    origin = f"http://127.0.0.1:{site.port}"
    context = chromium.new_context(
        base_url=origin, viewport={"width": 1280, "height": HEIGHT}
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    try:
        page = context.new_page()
        log_in_as(page, "clerk")
        page.get_by_role("link", name="Tokens", exact=True).click()
        expect(page).to_have_url("/tokens")
        expect(page.get_by_text("No tokens yet.")).to_be_visible()

        page.get_by_label("Label").fill("scanner")
        page.get_by_label("Scope").select_option("read")
        page.get_by_label("Expires after (days)").fill("30")
        assert press(page, page.get_by_role("button", name="Make token")) == 201
        expect(
            page.get_by_role("heading", name="Token “scanner” created")
        ).to_be_visible()
        shown = page.get_by_label("The new token")
        expect(shown).to_have_attribute("readonly", "")
        secret = shown.input_value()
        assert secret

        # The button's script is deferred: a click before it runs does nothing.
        page.wait_for_load_state("load")
        page.get_by_role("button", name="Copy", exact=True).click()
        expect(page.get_by_role("status")).to_have_text("Copied.")
        assert page.evaluate("navigator.clipboard.readText()") == secret

        me = site.request("GET", "/me", headers=bearer(secret))
        assert me.status == 200
        token_id = me.json()["token"]
        assert me.json() == {
            "user": "clerk",
            "role": "clerk",
            "scope": "read",
            "token": token_id,
            "collections": None,
        }
        assert site.request("GET", "/stock", headers=bearer(secret)).status == 200
        tokens = page.get_by_role("list", name="Your tokens").get_by_role("listitem")
        expect(tokens).to_have_count(1)
        expect(tokens).to_contain_text("scanner — read, active")
        expect(tokens).to_contain_text(f"Token {token_id};")

        assert press(page, page.get_by_role("button", name="Revoke scanner")) == 303
        expect(page.get_by_role("status")).to_have_text(
            f"Token {token_id} revoked: it no longer works."
        )
        expect(tokens).to_contain_text("scanner — read, revoked")
        expect(page.get_by_role("button", name="Revoke scanner")).to_have_count(0)
        assert site.request("GET", "/me", headers=bearer(secret)).status == 401
        assert site.request("GET", "/stock", headers=bearer(secret)).status == 401
    finally:
        context.close()


# Who sees what --------------------------------------------------------------


def test_a_clerk_has_no_users_link_and_is_refused_the_users_page(page):
    log_in_as(page, "clerk")
    expect(page.get_by_role("link", name="Tokens", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Users", exact=True)).to_have_count(0)
    response = page.goto("/users")
    assert response is not None and response.status == 403
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    expect(page.get_by_role("heading", level=1)).to_have_text("Forbidden")
    expect(page.get_by_role("alert")).to_have_text(
        "Only an admin may do this; you are logged in as clerk, a clerk."
    )
    expect(page.get_by_role("table")).to_have_count(0)


def test_an_admin_sees_the_users_link_and_the_users(page):
    log_in_as(page, "admin")
    page.get_by_role("link", name="Users", exact=True).click()
    expect(page).to_have_url("/users")
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    for name in ("admin", "clerk", "viewer"):
        row = page.get_by_role("row").filter(
            has=page.get_by_role("rowheader", name=name, exact=True)
        )
        expect(row.get_by_role("cell").nth(0)).to_have_text(name)
        expect(row.get_by_role("cell").nth(1)).to_have_text("active")
    expect(page.get_by_role("rowheader")).to_have_text(["admin", "clerk", "viewer"])


def test_a_viewer_sees_a_collection_without_any_control_that_writes(
    page, site, make_token, stored
):
    api_caller(site, make_token)("PUT", "/stock/fruit", {"apple": 30, "pear": 2})
    log_in_as(page, "viewer")
    page.get_by_role("link", name="fruit", exact=True).click()
    expect(page.get_by_role("heading", name="fruit", level=1)).to_be_visible()
    expect(quantity_cell(member_row(page, "apple"))).to_have_text("30")

    expect(page.get_by_text("Add a member")).to_have_count(0)
    expect(page.get_by_label("Amount")).to_have_count(0)
    expect(page.get_by_role("link", name="Delete", exact=False)).to_have_count(0)
    expect(page.get_by_text("More for apple")).to_have_count(0)
    expect(page.get_by_role("columnheader")).to_have_text(
        ["Member", "Quantity", "Reorder level"]
    )
    # The only buttons: the search's and logging out.
    expect(page.get_by_role("button")).to_have_text(["Log out", "Find"])

    # Nor does the server take what a form would have sent (the CSRF token is
    # a hidden field: no role to find it by).
    csrf = page.locator("input[name=csrf_token]").first.input_value()
    refused = page.request.post(
        "/collections/fruit/members/apple/adjustments",
        form={
            "csrf_token": csrf,
            "version": "1",
            "amount": "5",
            "direction": "take",
        },
        max_redirects=0,
    )
    assert refused.status == 403
    assert stored() == {"fruit": {"apple": 30, "pear": 2}}


# Finding members -------------------------------------------------------------


def test_members_sort_by_quantity_and_come_fifty_to_a_page(
    page, site, make_token, stored
):
    # 60 members whose quantities are in another order than their names.
    members = {f"item-{i:02}": (i * 7) % 60 for i in range(60)}
    api_caller(site, make_token)("PUT", "/stock/big", members)
    highest_first = sorted(members, key=members.__getitem__, reverse=True)
    log_in_as(page, "clerk")
    page.goto("/collections/big")
    names = page.get_by_role("rowheader")
    expect(names).to_have_text(sorted(members)[:50])

    # The sorts and sizes are folded under what is chosen now.
    view = page.locator("details.view > summary")
    expect(view).to_have_text("Name A–Z, 50 a page")
    view.click()
    sort = page.get_by_role("link", name="Quantity, highest first")
    sort.click()
    expect(page).to_have_url("/collections/big?sort=-quantity")
    expect(view).to_have_text("Quantity, highest first, 50 a page")
    expect(names).to_have_text(highest_first[:50])
    expect(quantity_cell(member_row(page, highest_first[0]))).to_have_text("59")
    expect(page.get_by_role("link", name="First page")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_have_text("big 60 members")
    top = page.get_by_role("navigation", name="Pages of members, top")
    bottom = page.get_by_role("navigation", name="Pages of members, bottom")
    expect(top.get_by_text("1–50 of 60")).to_be_visible()
    expect(top.get_by_role("link", name="Previous page")).to_have_count(0)

    bottom.get_by_role("link", name="Next page").click()
    expect(names).to_have_text(highest_first[50:])
    expect(bottom.get_by_text("51–60 of 60")).to_be_visible()
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    expect(view).to_have_text("Quantity, highest first, 50 a page")

    top.get_by_role("link", name="Previous page").click()
    expect(names).to_have_text(highest_first[:50])
    expect(top.get_by_text("1–50 of 60")).to_be_visible()
    bottom.get_by_role("link", name="Next page").click()
    top.get_by_role("link", name="First page").click()
    expect(page).to_have_url("/collections/big?sort=-quantity")
    expect(names).to_have_text(highest_first[:50])

    # A bigger page: all 60 at once, the size kept by the sort links.
    view.click()
    page.get_by_role("link", name="100 members a page").click()
    expect(names).to_have_text(highest_first)
    expect(top.get_by_text("1–60 of 60")).to_be_visible()
    expect(view).to_have_text("Quantity, highest first, 100 a page")
    view.click()
    page.get_by_role("link", name="Name A–Z").click()
    expect(page).to_have_url("/collections/big?sort=name&size=100")
    expect(names).to_have_text(sorted(members))
    assert stored() == {"big": members}


def test_the_overview_search_finds_a_member_by_part_of_its_name(page, site, make_token):
    api = api_caller(site, make_token)
    api("PUT", "/stock/fruit", {"crab-apple": 4, "pear": 9, "Apple-Mint": 1})
    api("PUT", "/stock/veg", {"leek": 2})
    read = api_reader(site, make_token)
    log_in_as(page, "clerk")
    page.get_by_label("Search collections and members").fill("APPL")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url("/?q=APPL")
    expect(page.get_by_role("heading", name="Search", level=1)).to_be_visible()
    expect(
        page.get_by_role(
            "heading", name="Members named like “APPL”, or in such a collection"
        )
    ).to_be_visible()
    rows = page.get_by_role("row")
    expect(rows).to_have_count(3)
    expect(rows.nth(1).get_by_role("cell")).to_have_text(["fruit", "crab-apple", "4"])
    expect(rows.nth(2).get_by_role("cell")).to_have_text(["fruit", "Apple-Mint", "1"])
    assert read("/stock/fruit/crab-apple") == (200, 4)

    # A found member opens its own page.
    page.get_by_role("link", name="crab-apple", exact=True).click()
    expect(page).to_have_url("/collections/fruit/members/crab-apple")
    expect(page.get_by_role("heading", level=1)).to_have_text("crab-apple")
    expect(page.locator(".facts dd.big")).to_have_text("4")

    # Its collection's find box narrows to it, and Show all widens again.
    page.get_by_role("link", name="fruit", exact=True).click()
    page.get_by_label("Find members of fruit").fill("crab-apple")
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url("/collections/fruit?q=crab-apple")
    expect(
        page.get_by_role("heading", name="Members named like “crab-apple”")
    ).to_be_visible()
    expect(page.get_by_role("rowheader")).to_have_text(["crab-apple"])
    expect(quantity_cell(member_row(page, "crab-apple"))).to_have_text("4")
    page.get_by_role("link", name="Show all").click()
    expect(page.get_by_role("rowheader")).to_have_text(
        ["Apple-Mint", "crab-apple", "pear"]
    )


# Deleting a collection -------------------------------------------------------


def test_a_collection_is_deleted_only_when_its_name_is_typed(
    page, site, make_token, stored
):
    api = api_caller(site, make_token)
    api("PUT", "/stock/fruit", {"apple": 30, "pear": 12})
    api("PUT", "/stock/veg", {"leek": 2})
    read = api_reader(site, make_token)
    # Deleting a whole collection is an admin's, under More.
    log_in_as(page, "admin")
    page.get_by_role("link", name="fruit", exact=True).click()
    expect(page.get_by_role("link", name="Delete fruit…")).not_to_be_visible()
    page.get_by_text("More for fruit").click()
    page.get_by_role("link", name="Delete fruit…").click()
    expect(page).to_have_url("/collections/fruit/delete")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Delete the collection fruit?"
    )
    expect(page.get_by_text("fruit has 2 members holding 42 in all.")).to_be_visible()

    name = page.get_by_label("Name of the collection")
    expect(name).to_have_accessible_description("Type fruit to confirm.")
    name.fill("Fruit")
    assert press(page, page.get_by_role("button", name="Delete fruit")) == 400
    name = page.get_by_label("Name of the collection")
    # What was typed is kept, to be corrected.
    expect(name).to_have_value("Fruit")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description(
        "Name of the collection must be fruit, typed exactly, to delete it"
    )
    assert stored() == {"fruit": {"apple": 30, "pear": 12}, "veg": {"leek": 2}}

    name.fill("fruit")
    assert press(page, page.get_by_role("button", name="Delete fruit")) == 303
    expect(page).to_have_url("/")
    expect(flash(page)).to_have_text("Collection fruit deleted.")
    expect(page.get_by_role("link", name="fruit", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="veg", exact=True)).to_be_visible()
    assert stored() == {"veg": {"leek": 2}}
    assert read("/stock/fruit")[0] == 404


# The keyboard alone ----------------------------------------------------------


def test_a_member_is_adjusted_with_the_keyboard_alone(page, site, make_token, stored):
    api_caller(site, make_token)("PUT", "/stock/fruit", {"apple": 30, "pear": 2})
    log_in_as(page, "clerk")
    tab_to(page, page.get_by_role("link", name="fruit", exact=True))
    page.keyboard.press("Enter")
    expect(page).to_have_url("/collections/fruit")

    apple = member_row(page, "apple")
    tab_to(page, apple.get_by_label("Amount"))
    page.keyboard.type("4")
    page.keyboard.press("Tab")
    expect(apple.get_by_label("Reason for apple", exact=True)).to_be_focused()
    page.keyboard.type("sold")
    page.keyboard.press("Tab")
    take = apple.get_by_role("button", name="Take from apple")
    expect(take).to_be_focused()
    # The focus can be seen.
    assert take.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
    page.keyboard.press("Space")
    expect(said(page)).to_have_text("Took 4 from apple: it now holds 26.")
    assert stored() == {"fruit": {"apple": 26, "pear": 2}}

    tab_to(page, apple.get_by_label("Amount"))
    page.keyboard.type("10")
    tab_to(page, apple.get_by_role("button", name="Add to apple"), most=3)
    page.keyboard.press("Enter")
    expect(said(page)).to_have_text("Added 10 to apple: it now holds 36.")
    expect(quantity_cell(member_row(page, "apple"))).to_have_text("36")
    assert stored() == {"fruit": {"apple": 36, "pear": 2}}


IMPORT_HEADER = b"collection,member,quantity\r\n"
# An export names each member's code too (empty when it has none).
EXPORT_HEADER = b"collection,member,quantity,code\r\n"


def test_a_file_is_tried_then_imported_on_the_import_page(
    page, site, make_token, stored
):
    api_caller(site, make_token)("PUT", "/stock/fruit", {"apple": 30, "pear": 2})
    log_in_as(page, "clerk")
    page.get_by_role("link", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Import stock", level=1)).to_be_visible()
    stock_file = {
        "name": "count.csv",
        "mimeType": "text/csv",
        "buffer": IMPORT_HEADER + b"fruit,apple,28\r\nfruit,kiwi,5\r\n",
    }
    page.get_by_label("File", exact=True).set_input_files(files=[stock_file])
    page.get_by_label("Remove them from the collections the file names").check()
    page.get_by_label("Only show what would change").check()
    # The dry run keeps the file and shows its preview (the redirect's page).
    assert press(page, page.get_by_role("button", name="Import")) == 303
    expect(page.get_by_role("status")).to_have_text(
        "Would import 1 collection (0 new): 1 member added, 1 changed,"
        " 0 unchanged, 1 removed."
    )
    assert stored() == {"fruit": {"apple": 30, "pear": 2}}

    # The preview's form for a file starts afresh: merge, not a dry run.
    page.get_by_label("File", exact=True).set_input_files(files=[stock_file])
    page.get_by_label("Remove them from the collections the file names").check()
    expect(page.get_by_label("Only show what would change")).not_to_be_checked()
    assert press(page, page.get_by_role("button", name="Import", exact=True)) == 303
    expect(flash(page)).to_have_text(
        "Imported 1 collection (0 new): 1 member added, 1 changed, 0 unchanged,"
        " 1 removed."
    )
    assert stored() == {"fruit": {"apple": 28, "kiwi": 5}}


def test_the_import_page_downloads_a_csv_safe_for_spreadsheets(page, site, make_token):
    api_caller(site, make_token)("PUT", "/stock/sheet", {"=HYPERLINK(1)": 1, "ok": 2})
    log_in_as(page, "clerk")
    page.goto("/import")
    link = page.get_by_role("link", name="download it as CSV for a spreadsheet")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "stock.csv"
    assert download.value.url.endswith("/download/stock.csv")
    assert Path(download.value.path()).read_bytes() == (
        EXPORT_HEADER + b"sheet,'=HYPERLINK(1),1,\r\nsheet,ok,2,\r\n"
    )


# Every width ---------------------------------------------------------------


def show_collection_with_a_refused_row(page) -> None:
    """The collection page answering a take of more than washers holds."""
    page.goto("/collections/shelf")
    assert adjust(page, "washers", "999", "", "Take") == 409
    expect(member_row(page, "washers").get_by_role("alert")).to_be_visible()
    expect(quantity_cell(member_row(page, "washers"))).to_have_text("4 low")


def show_refused_collection_deletion(page) -> None:
    """The collection's deletion page after a wrong name was typed."""
    page.goto("/collections/shelf/delete")
    page.get_by_label("Name of the collection").fill("shelves")
    assert press(page, page.get_by_role("button", name="Delete shelf")) == 400


def show_new_token(page) -> None:
    """The tokens page right after making one: its secret shown once."""
    page.goto("/tokens")
    page.get_by_label("Label").fill("stock-taking scanner in the back room")
    page.get_by_label("Only these collections").fill("shelf")
    assert press(page, page.get_by_role("button", name="Make token")) == 201
    expect(page.get_by_label("The new token")).not_to_have_value("")


def show_missing_collection(page) -> None:
    """The error page of a collection that is not there."""
    response = page.goto("/collections/nope")
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_have_text('There is no collection "nope".')


def show_refused_import(page) -> None:
    """The import page after a file with bad rows (and a dry run's report)."""
    page.goto("/import")
    page.get_by_label("File", exact=True).set_input_files(
        files=[
            {
                "name": "stock.csv",
                "mimeType": "text/csv",
                "buffer": IMPORT_HEADER + b"shelf,bolts,many\r\nshelf,nuts/bolts,1\r\n",
            }
        ]
    )
    assert press(page, page.get_by_role("button", name="Import")) == 400
    expect(page.get_by_role("alert")).to_contain_text("Nothing was imported: 2 bad")


NEW_PAGES = {
    # name: (who is logged in, a path to open or a function that shows the page)
    "collection": ("clerk", show_collection_with_a_refused_row),
    "delete-collection": ("admin", "/collections/shelf/delete"),
    "delete-collection-refused": ("admin", show_refused_collection_deletion),
    "delete-member": ("clerk", "/collections/shelf/members/washers/delete"),
    "search": ("clerk", "/?q=sh"),
    "tokens": ("clerk", show_new_token),
    "users": ("admin", "/users"),
    "not-found": ("clerk", show_missing_collection),
    "import-refused": ("clerk", show_refused_import),
}


@pytest.mark.parametrize("name", sorted(NEW_PAGES))
def test_each_new_page_fits_every_width_and_passes_axe(
    chromium, site, make_token, name
):
    user, show = NEW_PAGES[name]
    api = api_caller(site, make_token)
    # A collection with a low member, and one beside it.
    api("PUT", "/stock/shelf", {"bolts": 120, "washers": 4})
    api("PUT", "/stock/shelf/washers/reorder-level", 50)
    api("PUT", "/stock/bench", {"shelf-brackets": 8})
    for width in WIDTHS:
        with tab_of(chromium, site, user, width) as page:
            if callable(show):
                show(page)
            else:
                response = page.goto(show)
                assert response is not None and response.status == 200
            screenshot(page, name, width)
            assert overflow_px(page) <= 0, f"{name} scrolls sideways at {width} px"
            assert serious_violations(page) == [], (name, width)


def test_a_radio_button_keeps_its_size_beside_a_long_label_on_a_phone(chromium, site):
    with tab_of(chromium, site, "clerk", 360) as page:
        page.goto("/import")
        for name in ("Keep them (merge)", "Remove them from the collections"):
            radio = page.get_by_role("radio", name=name)
            box = radio.bounding_box()
            assert box is not None and box["width"] >= 20, (name, box)
