"""The stocktake and "Move…" pages in a real browser (tests/browser.py): two
clerks on phones count one stocktake at once and one commits it; a clerk moves
stock between collections; every page fits every width and passes axe.

What the person sees is checked, then what is stored, read back through the
JSON API.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from browser import ARTIFACTS, HEIGHT, WIDTHS, looks_right, notice, press
from helpers import bearer, log_in_as
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = 360


# Helpers --------------------------------------------------------------------


@contextmanager
def tab_of(chromium, site, user: str, role: str, width: int) -> Iterator[Any]:
    """A tab in a browser context of its own (its own cookies), ``user`` logged in."""
    context = chromium.new_context(
        base_url=f"http://127.0.0.1:{site.port}",
        viewport={"width": width, "height": HEIGHT},
    )
    try:
        tab = context.new_page()
        log_in_as(tab, user)
        # (On a phone the header's "who" is folded into its menu.)
        expect(tab.get_by_role("status")).to_have_text(f"Logged in as {user} ({role}).")
        yield tab
    finally:
        context.close()


@pytest.fixture
def api(site, make_token):
    """Call the JSON API of ``site`` as the admin; each call must succeed."""
    token = bearer(make_token("admin", "admin"))

    def call(method: str, path: str, body: Any = None) -> Any:
        reply = site.request(method, path, body, headers=token)
        assert reply.status < 300, (method, path, reply.status, reply.body)
        return reply.json() if reply.body else None

    return call


def in_place(page, name: str, width: int) -> None:
    """Screenshot what the screen shows now (not the whole page): where a
    form brought the clerk back to."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"))


def to_count(page):
    """The list of members still to count."""
    return page.get_by_role("list", name=re.compile(r"^To count"))


def counted(page):
    """The list of members counted."""
    return page.get_by_role("list", name=re.compile(r"^Counted"))


def count(page, member: str, quantity: str) -> int:
    """Type a first count of ``member`` and press its Save."""
    row = to_count(page).get_by_role("listitem").filter(has_text=member)
    row.get_by_label(f"{member} count", exact=True).fill(quantity)
    return press(page, row.get_by_role("button", name=f"Save {member}", exact=True))


def recount(page, member: str, quantity: str) -> int:
    """Open "Recount <member>", type ``quantity`` and press its Save."""
    row = counted(page).get_by_role("listitem").filter(has_text=member)
    row.get_by_text(f"Recount {member}", exact=True).click()
    row.get_by_label(f"New count of {member}", exact=True).fill(quantity)
    return press(page, row.get_by_role("button", name=f"Save {member}", exact=True))


def counted_as(page, member: str) -> tuple[str, str]:
    """The count a member's row shows, and who counted it."""
    row = counted(page).get_by_role("listitem").filter(has_text=member)
    meta = row.locator(".meta").inner_text()
    return row.locator(".tally").inner_text(), meta.partition(",")[0]


def fragment(page) -> str:
    """The #fragment of the page's URL (the row the clerk was brought to)."""
    return page.evaluate("() => location.hash")


def in_view(page, selector: str) -> bool:
    """Whether the element comes within the viewport (the clerk sees it) in the
    few seconds the browser may take to scroll to a fragment after the page
    loaded (the way ``expect`` waits for what a person would see)."""
    try:
        page.wait_for_function(
            """(selector) => {
                const box = document.querySelector(selector).getBoundingClientRect();
                return box.top >= 0 && box.bottom <= window.innerHeight;
            }""",
            arg=selector,
            timeout=5_000,
        )
    except PlaywrightTimeoutError:
        return False
    return True


def review_rows(page) -> list[list[str]]:
    """The review table's rows: member, expected, counted, variance, after."""
    rows = page.locator("table.review tbody tr")
    return [
        [cell.strip() for cell in row.locator("th, td").all_inner_texts()]
        for row in rows.all()
    ]


# Two clerks count at once -----------------------------------------------------

SHELF = {
    "bolts": 120,
    "hooks": 7,
    "nuts": 40,
    "screws": 10,
    "washers": 4,
    # Enough members that the list is longer than a phone's screen.
    **{f"spare-{number:02}": 1 for number in range(12)},
}


def test_two_clerks_count_at_once_and_the_commit_makes_the_stock_the_counts(
    chromium, site, make_user, api
):
    make_user("bob", "clerk")
    api("PUT", "/stock/shelf", SHELF)
    with (
        tab_of(chromium, site, "clerk", "clerk", PHONE) as ann,
        tab_of(chromium, site, "bob", "clerk", PHONE) as bob,
    ):
        # Ann opens the count from the nav's Stocktakes page, in the phone's menu.
        ann.get_by_role("link", name="Menu", exact=True).click()
        ann.get_by_role("link", name="Stocktakes", exact=True).click()
        expect(ann).to_have_url("/stocktaking")
        expect(ann.get_by_text("No stocktake is open.")).to_be_visible()
        looks_right(ann, "stocktakes-none-open", PHONE)
        ann.get_by_label("Collection").select_option("shelf")
        ann.get_by_label("Note").fill("end of March")
        assert press(ann, ann.get_by_role("button", name="Open the count")) == 303
        expect(ann).to_have_url("/stocktaking/1")
        expect(notice(ann)).to_have_text(
            "Stocktake 1 of shelf opened: count each member, then review the"
            " differences and commit."
        )
        expect(ann.get_by_text("0 of 17 counted.")).to_be_visible()

        # Bob finds it on the list of open stocktakes.
        bob.goto("/stocktaking")
        bob.get_by_role("link", name="Stocktake 1 of shelf").click()
        expect(bob).to_have_url("/stocktaking/1")
        expect(bob.get_by_text("end of March")).to_be_visible()

        # Each counts other members. A first count brings the clerk to the
        # next member still to count, the notice in sight.
        assert count(ann, "bolts", "118") == 303
        expect(notice(ann)).to_have_text("Counted bolts: 118.")
        hooks = ann.locator(f"#{fragment(ann)[1:]}")
        expect(hooks).to_contain_text("hooks")
        assert in_view(ann, fragment(ann))
        assert in_view(ann, ".flash")
        assert count(bob, "washers", "4") == 303
        expect(notice(bob)).to_have_text("Counted washers: 4.")
        assert count(ann, "nuts", "40") == 303
        assert count(bob, "screws", "9") == 303
        expect(bob.get_by_text("4 of 17 counted.")).to_be_visible()
        # Far down the list, the page comes back scrolled to the next member,
        # the notice of the save stuck at the top of the screen.
        assert count(ann, "spare-05", "2") == 303
        expect(notice(ann)).to_have_text("Counted spare-05: 2.")
        expect(ann.locator(fragment(ann))).to_contain_text("spare-06")
        # (The browser may scroll to the fragment a moment after the load.)
        ann.wait_for_function(f"() => window.scrollY > {HEIGHT}")
        assert ann.evaluate("() => window.scrollY") > HEIGHT
        assert in_view(ann, fragment(ann))
        assert in_view(ann, ".flash")
        in_place(ann, "stocktake-count-saved", PHONE)

        # A member far down the list, found by its name.
        bob.get_by_label("Find a member").fill("SPARE-11")
        bob.get_by_role("button", name="Find").click()
        expect(bob).to_have_url("/stocktaking/1?q=SPARE-11")
        expect(to_count(bob).get_by_role("listitem")).to_have_count(1)
        assert count(bob, "spare-11", "1") == 303
        expect(bob).to_have_url(re.compile(r"/stocktaking/1\?q=SPARE-11#progress$"))
        expect(
            bob.get_by_text("No member named like that is left to count.")
        ).to_be_visible()
        bob.get_by_role("link", name="Show all").click()

        # Bob recounts what Ann counted: his count replaces hers.
        assert counted_as(bob, "bolts") == ("118", "Counted by clerk")
        assert recount(bob, "bolts", "119") == 303
        expect(notice(bob)).to_have_text("Recounted bolts: 119 (was 118).")
        expect(bob).to_have_url(re.compile(r"/stocktaking/1#m-[0-9a-f]{12}$"))
        assert in_view(bob, fragment(bob))

        # Ann's page still shows her 118: her recount would replace Bob's
        # unseen, so it is refused and she is told.
        assert recount(ann, "bolts", "117") == 409
        bolts = counted(ann).get_by_role("listitem").filter(has_text="bolts")
        expect(bolts.get_by_role("alert")).to_have_text(
            "bolts was counted as 119 by bob meanwhile. Nothing was saved; save"
            " again to replace their count."
        )
        expect(bolts.get_by_label("New count of bolts")).to_have_value("117")
        looks_right(ann, "stocktake-count-conflict", PHONE)

        # Reloading shows everything saved, by both.
        ann.goto("/stocktaking/1")
        expect(ann.get_by_text("6 of 17 counted.")).to_be_visible()
        assert counted_as(ann, "bolts") == ("119", "Counted by bob")
        assert counted_as(ann, "washers") == ("4", "Counted by bob")
        assert counted_as(ann, "nuts") == ("40", "Counted by clerk")

        # Meanwhile nuts are sold through the API, after they were counted:
        # not a loss.
        api("POST", "/stock/shelf/nuts/adjustments", {"delta": -5, "reason": "sold"})

        # Ann reviews: each variance against the stock when it was counted.
        ann.get_by_role("link", name="Review and commit").click()
        expect(ann).to_have_url("/stocktaking/1/review")
        looks_right(ann, "stocktake-review-open", PHONE)
        assert review_rows(ann) == [
            ["bolts", "120", "119", "−1", "119"],
            ["nuts", "35", "40", "0", "35"],
            ["screws", "10", "9", "−1", "9"],
            ["spare-05", "1", "2", "+1", "2"],
            ["spare-11", "1", "1", "0", "1"],
            ["washers", "4", "4", "0", "4"],
        ]
        uncounted = ann.get_by_role("list", name=re.compile("^Not counted"))
        expect(uncounted.get_by_role("listitem")).to_have_count(11)
        expect(uncounted).to_contain_text("hooks")

        # The commit needs the box ticked (the browser will not send it
        # otherwise); the members nobody counted are set to 0.
        checked = ann.get_by_label("I have checked the variances")
        expect(checked).to_have_attribute("required", "")
        ann.get_by_label("Set them to 0 (not on the shelf)").check()
        checked.check()
        commit = ann.get_by_role("button", name="Commit the stocktake")
        assert press(ann, commit) == 303
        expect(ann).to_have_url("/stocktaking/1/review")
        expect(notice(ann)).to_have_text(
            "Stocktake 1 of shelf committed: the stock is now what was counted and"
            " the members nobody counted set to 0."
        )
        expect(ann.locator(".closed-note")).to_contain_text(
            "Its counts became the stock; this stocktake is read-only now."
        )
        expect(ann.get_by_role("button", name="Commit the stocktake")).to_have_count(0)
        expect(ann.get_by_role("link", name="Cancel the count…")).to_have_count(0)

        # The stock is the counts (the sale kept), the uncounted 0.
        spares = {f"spare-{number:02}": 0 for number in range(12)}
        assert api("GET", "/stock/shelf") == {
            "bolts": 119,
            "hooks": 0,
            "nuts": 35,
            "screws": 9,
            "washers": 4,
            **spares,
            "spare-05": 2,
            "spare-11": 1,
        }

        # Bob's page is read-only now; a Save from his old page is refused.
        bob.goto("/stocktaking/1")
        expect(bob.locator(".closed-note")).to_contain_text("read-only")
        expect(bob.get_by_role("button", name=re.compile("^Save"))).to_have_count(0)
        expect(bob.get_by_role("link", name="Review", exact=True)).to_be_visible()


def test_a_save_from_a_page_left_open_after_the_commit_is_refused(chromium, site, api):
    api("PUT", "/stock/shelf", {"bolts": 120, "nuts": 40})
    api("POST", "/stocktakes", {"collection": "shelf"})
    with tab_of(chromium, site, "clerk", "clerk", PHONE) as page:
        page.goto("/stocktaking/1")
        api("POST", "/stocktakes/1/commit", {})
        assert count(page, "bolts", "100") == 409
        expect(page.get_by_role("alert")).to_have_text(
            "Stocktake 1 is committed: it can no longer change; nothing was changed."
        )
        expect(page.get_by_role("button", name=re.compile("^Save"))).to_have_count(0)
    assert api("GET", "/stock/shelf") == {"bolts": 120, "nuts": 40}


def test_a_cancelled_count_changes_nothing(chromium, site, api):
    api("PUT", "/stock/shelf", {"bolts": 120})
    api("POST", "/stocktakes", {"collection": "shelf"})
    with tab_of(chromium, site, "clerk", "clerk", PHONE) as page:
        page.goto("/stocktaking/1")
        assert count(page, "bolts", "3") == 303
        page.get_by_role("link", name="Review and commit").click()
        page.get_by_role("link", name="Cancel the count…").click()
        expect(page).to_have_url("/stocktaking/1/cancel")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Cancel stocktake 1 of shelf?"
        )
        assert press(page, page.get_by_role("button", name="Cancel the count")) == 303
        expect(page).to_have_url("/stocktaking/1/review")
        expect(notice(page)).to_have_text(
            "Stocktake 1 of shelf cancelled: the stock was not changed."
        )
        expect(page.locator(".closed-note")).to_contain_text(
            "The stock was not changed; this stocktake is read-only now."
        )
    assert api("GET", "/stock/shelf") == {"bolts": 120}
    assert api("GET", "/stocktakes/1")["state"] == "cancelled"


# Moving stock -----------------------------------------------------------------


@pytest.mark.parametrize("width", [PHONE, 1280])
def test_a_clerk_moves_stock_to_another_collection(chromium, site, api, width):
    api("PUT", "/stock/warehouse", {"apple": 30, "pear": 4})
    api("PUT", "/stock/shop", {"apple": 2})
    with tab_of(chromium, site, "clerk", "clerk", width) as page:
        page.goto("/collections/warehouse")
        row = page.get_by_role("row").filter(
            has=page.get_by_role("rowheader", name="apple", exact=True)
        )
        row.get_by_text("More for apple", exact=True).click()
        row.get_by_role("link", name="Move apple…").click()
        expect(page).to_have_url("/collections/warehouse/members/apple/move")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Move apple from warehouse"
        )
        # To the first other collection, to a member of the same name.
        expect(page.get_by_label("To collection")).to_have_value("shop")
        expect(page.get_by_label("To member")).to_have_value("apple")
        looks_right(page, "move", width)

        # More than there is: refused beside the quantity, the values kept.
        page.get_by_label("Quantity").fill("31")
        page.get_by_label("Reason").fill("restock the shop")
        assert press(page, page.get_by_role("button", name="Move")) == 409
        quantity = page.get_by_label("Quantity")
        expect(quantity).to_have_attribute("aria-invalid", "true")
        expect(quantity).to_have_accessible_description(
            "Quantity is more than apple holds (30): nothing was moved"
        )
        expect(quantity).to_have_value("31")
        expect(page.get_by_label("Reason")).to_have_value("restock the shop")
        looks_right(page, "move-refused", width)

        # The same member: refused beside it.
        page.get_by_label("To collection").select_option("warehouse")
        quantity.fill("12")
        assert press(page, page.get_by_role("button", name="Move")) == 400
        expect(page.get_by_label("To member")).to_have_accessible_description(
            "To member is the member being moved: choose another member or collection"
        )
        expect(page.get_by_label("To collection")).to_have_value("warehouse")
        assert api("GET", "/stock/warehouse") == {"apple": 30, "pear": 4}

        # Then moved.
        page.get_by_label("To collection").select_option("shop")
        assert press(page, page.get_by_role("button", name="Move")) == 303
        expect(page).to_have_url("/collections/warehouse")
        expect(notice(page)).to_have_text(
            "Moved 12 from apple in warehouse to apple in shop. Now apple in"
            " warehouse holds 18 and apple in shop holds 14."
        )
    assert api("GET", "/stock") == {
        "warehouse": {"apple": 18, "pear": 4},
        "shop": {"apple": 14},
    }
    movements = api("GET", "/stock/shop/history")["movements"]
    assert (movements[0]["kind"], movements[0]["reason"], movements[0]["by"]) == (
        "transfer",
        "restock the shop",
        "clerk",
    )


# Every page, every width ------------------------------------------------------

LONG = "stainless-steel-hex-socket-cap-screw-M6x40-DIN912-A2-70-box-of-200"


def test_each_page_fits_every_width_and_passes_axe(chromium, site, api):
    api("PUT", "/stock/shelf", {"bolts": 120, "nuts": 40, LONG: 3, "washers": 4})
    api("PUT", "/stock/shop", {"bolts": 1})
    # Stocktake 1: committed, with a loss and a gain.
    api("POST", "/stocktakes", {"collection": "shelf", "note": "end of February"})
    api("PUT", "/stocktakes/1/counts/bolts", {"quantity": 118})
    api("PUT", f"/stocktakes/1/counts/{LONG}", {"quantity": 5})
    api("POST", "/stocktakes/1/commit", {})
    # Stocktake 2: open, half counted.
    api("POST", "/stocktakes", {"collection": "shelf", "note": "end of March"})
    api("PUT", "/stocktakes/2/counts/nuts", {"quantity": 38})
    api("PUT", f"/stocktakes/2/counts/{LONG}", {"quantity": 4})
    pages = {
        "stocktakes": "/stocktaking",
        "stocktake-count": "/stocktaking/2",
        "stocktake-count-found": "/stocktaking/2?q=bolt",
        "stocktake-review": "/stocktaking/2/review",
        "stocktake-cancel": "/stocktaking/2/cancel",
        "stocktake-committed-count": "/stocktaking/1",
        "stocktake-committed-review": "/stocktaking/1/review",
        "move-long-name": f"/collections/shelf/members/{LONG}/move",
    }
    for width in WIDTHS:
        with tab_of(chromium, site, "clerk", "clerk", width) as page:
            for name, path in pages.items():
                response = page.goto(path)
                assert response is not None and response.status == 200, path
                looks_right(page, name, width)
    # The pages only read.
    assert api("GET", "/stocktakes/2")["state"] == "open"
