"""The "Move…" page: a clerk moves stock from a member to another member by a
form, through the transfer unit of work; the stored state is read back after
each form."""

from __future__ import annotations

import html
import re

import pytest
from helpers import bearer, csrf_token_of, problem_page

from stockapp.core.rules import MAX_QUANTITY

MOVE = "/collections/warehouse/members/apple/move"
_FLASH = re.compile(r'<p class="flash (\w+)" role="status">(.*?)</p>', re.S)
_FIELD_ERROR = re.compile(r'<p class="error" id="([\w-]+)-error">(.*?)</p>', re.S)
_OPTION = re.compile(r"<option( selected)?>(.*?)</option>")
_VALUE = re.compile(r'<input id="(\w+)" name="\w+" type="\w+" value="([^"]*)"')


def text_of(response) -> str:
    return response.get_data(as_text=True)


def post(browser, path: str, **form: str):
    """Post a form with the CSRF token of the browser's session."""
    token = csrf_token_of(text_of(browser.get("/log-in")))
    return browser.post(path, data={**form, "csrf_token": token})


def notice(browser, response) -> str:
    """Follow a form's 303; the notice the page shows."""
    assert response.status_code == 303
    page = text_of(browser.get(response.headers["Location"]))
    [(kind, message)] = _FLASH.findall(page)
    assert kind == "success"
    return html.unescape(message)


def field_errors(page: str) -> dict[str, str]:
    """Each field's error, by the field's id."""
    return {key: html.unescape(why) for key, why in _FIELD_ERROR.findall(page)}


def values(page: str) -> dict[str, str]:
    """What each text field of the form holds, and the collection chosen."""
    found = {key: html.unescape(value) for key, value in _VALUE.findall(page)}
    chosen = [name for selected, name in _OPTION.findall(page) if selected]
    return {**found, "collection": chosen[0] if chosen else None}


def move(browser, quantity="12", to="shop", member="apple", reason="restock"):
    return post(
        browser, MOVE, collection=to, member=member, quantity=quantity, reason=reason
    )


@pytest.fixture
def movements(rows):
    def read(collection: str) -> list[dict]:
        return rows(
            'SELECT member, kind, "before", "after", reason, by,'
            " transfer IS NOT NULL AS grouped FROM movements"
            " WHERE collection = :collection ORDER BY id",
            collection=collection,
        )

    return read


# --- The form -----------------------------------------------------------------


def test_the_form_shows_the_source_and_goes_elsewhere_by_default(client, seed):
    seed(warehouse={"apple": 30}, shop={"pear": 1}, attic={})
    response = client.get(MOVE)
    assert response.status_code == 200
    page = text_of(response)
    assert "<h1>Move apple from warehouse</h1>" in page
    assert "apple in warehouse holds <strong>30</strong>." in page
    # Every collection, A to Z; the first other than the source chosen.
    assert _OPTION.findall(page) == [
        (" selected", "attic"),
        ("", "shop"),
        ("", "warehouse"),
    ]
    assert values(page) == {
        "member": "apple",
        "quantity": "",
        "reason": "",
        "collection": "attic",
    }
    assert field_errors(page) == {}
    assert f'action="{MOVE}"' in page


def test_the_collection_page_links_each_member_to_its_move(client, seed):
    seed(warehouse={"apple": 30, "a b?": 1})
    page = text_of(client.get("/collections/warehouse?sort=-quantity"))
    assert (
        '<a href="/collections/warehouse/members/apple/move?sort=-quantity">'
        "Move apple…</a>"
    ) in page
    assert (
        '<a href="/collections/warehouse/members/a%20b%3F/move?sort=-quantity">'
        "Move a b?…</a>"
    ) in page


def test_a_move_is_stored_and_said_naming_both_ends(client, seed, stored, movements):
    seed(warehouse={"apple": 30, "pear": 4}, shop={"apple": 2})
    response = move(client, "12")
    assert response.headers["Location"] == "/collections/warehouse"
    assert notice(client, response) == (
        "Moved 12 from apple in warehouse to apple in shop. Now apple in warehouse"
        " holds 18 and apple in shop holds 14."
    )
    assert stored() == {"warehouse": {"apple": 18, "pear": 4}, "shop": {"apple": 14}}
    taken, added = movements("warehouse")[-1], movements("shop")[-1]
    assert taken == {
        "member": "apple",
        "kind": "transfer",
        "before": 30,
        "after": 18,
        "reason": "restock",
        "by": None,
        "grouped": True,
    }
    assert (added["kind"], added["before"], added["after"]) == ("transfer", 2, 14)


def test_a_move_to_a_member_not_there_makes_it(client, seed, stored):
    seed(warehouse={"apple": 30}, shop={})
    response = move(client, "30", member="green apple", reason="")
    assert notice(client, response) == (
        "Moved 30 from apple in warehouse to green apple in shop (a new member)."
        " Now apple in warehouse holds 0 and green apple in shop holds 30."
    )
    assert stored() == {"warehouse": {"apple": 0}, "shop": {"green apple": 30}}


def test_a_move_within_the_collection_goes_to_the_other_member(client, seed, stored):
    seed(warehouse={"apple": 30, "apples (boxed)": 1})
    response = move(client, "5", to="warehouse", member="apples (boxed)")
    assert notice(client, response) == (
        "Moved 5 from apple in warehouse to apples (boxed) in warehouse. Now apple"
        " in warehouse holds 25 and apples (boxed) in warehouse holds 6."
    )
    assert stored() == {"warehouse": {"apple": 25, "apples (boxed)": 6}}


def test_the_page_of_members_shown_is_kept(client, seed):
    seed(warehouse={"apple": 30}, shop={})
    page = text_of(client.get(f"{MOVE}?sort=-quantity&q=app"))
    assert f'action="{MOVE}?sort=-quantity&amp;q=app"' in page
    assert 'href="/collections/warehouse?sort=-quantity&amp;q=app">Cancel</a>' in page
    token = csrf_token_of(page)
    form = {"collection": "shop", "member": "apple", "quantity": "1"}
    response = client.post(
        f"{MOVE}?sort=-quantity&q=app", data={**form, "csrf_token": token}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/collections/warehouse?sort=-quantity&q=app"


# --- Refusals -------------------------------------------------------------------


BIG = "9" * 30


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        (
            {"quantity": ""},
            {"quantity": f"Quantity must be a whole number from 1 to {MAX_QUANTITY}"},
        ),
        (
            {"quantity": "0"},
            {"quantity": f"Quantity must be a whole number from 1 to {MAX_QUANTITY}"},
        ),
        (
            {"quantity": "-3"},
            {"quantity": f"Quantity must be a whole number from 1 to {MAX_QUANTITY}"},
        ),
        (
            {"quantity": "1.5"},
            {"quantity": f"Quantity must be a whole number from 1 to {MAX_QUANTITY}"},
        ),
        (
            {"quantity": BIG},
            {"quantity": f"Quantity must be a whole number from 1 to {MAX_QUANTITY}"},
        ),
        ({"member": ""}, {"member": "To member is required"}),
        ({"member": "a/b"}, {"member": "To member must not contain '/'"}),
        ({"to": ""}, {"collection": "To collection is required"}),
        (
            {"reason": "r" * 201},
            {"reason": "Reason must be at most 200 characters long"},
        ),
        (
            {"to": "", "member": "", "quantity": "x"},
            {
                "collection": "To collection is required",
                "member": "To member is required",
                "quantity": f"Quantity must be a whole number from 1 to {MAX_QUANTITY}",
            },
        ),
        (
            {"to": "warehouse"},
            {
                "member": "To member is the member being moved: choose another"
                " member or collection"
            },
        ),
    ],
)
def test_bad_input_is_told_beside_its_field_keeping_the_values(
    client, seed, stored, form, errors
):
    seed(warehouse={"apple": 30}, shop={})
    typed = {"quantity": "12", "to": "shop", "member": "apple", "reason": "restock"}
    typed.update(form)
    response = move(client, **typed)
    assert response.status_code == 400
    page = text_of(response)
    assert field_errors(page) == errors
    shown = values(page)
    assert shown["quantity"] == typed["quantity"]
    assert shown["member"] == typed["member"]
    assert shown["reason"] == typed["reason"]
    # A collection the select does not offer cannot be shown chosen.
    assert shown["collection"] == (typed["to"] or None)
    assert stored() == {"warehouse": {"apple": 30}, "shop": {}}


def test_more_than_the_source_holds_is_refused_keeping_the_values(
    client, seed, stored, movements
):
    seed(warehouse={"apple": 30}, shop={"apple": 2})
    response = move(client, "31")
    assert response.status_code == 409
    page = text_of(response)
    assert field_errors(page) == {
        "quantity": "Quantity is more than apple holds (30): nothing was moved"
    }
    assert values(page) == {
        "member": "apple",
        "quantity": "31",
        "reason": "restock",
        "collection": "shop",
    }
    assert stored() == {"warehouse": {"apple": 30}, "shop": {"apple": 2}}
    assert [m["kind"] for m in movements("warehouse")] == ["create"]


def test_a_destination_past_the_largest_quantity_is_refused(client, seed, stored):
    seed(warehouse={"apple": 30}, shop={"apple": MAX_QUANTITY - 1})
    response = move(client, "2")
    assert response.status_code == 409
    assert field_errors(text_of(response)) == {
        "quantity": f"Quantity would take apple in shop past {MAX_QUANTITY} (it"
        f" holds {MAX_QUANTITY - 1}): nothing was moved"
    }
    assert stored() == {
        "warehouse": {"apple": 30},
        "shop": {"apple": MAX_QUANTITY - 1},
    }


def test_a_destination_collection_deleted_meanwhile_is_told(client, seed, stored):
    seed(warehouse={"apple": 30})
    response = move(client, "2", to="shop")
    assert response.status_code == 409
    assert field_errors(text_of(response)) == {
        "collection": "To collection shop does not exist"
    }
    assert stored() == {"warehouse": {"apple": 30}}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_missing_source_is_a_404_page(client, seed, method):
    seed(warehouse={"pear": 1}, shop={})
    response = client.get(MOVE) if method == "GET" else move(client, "1")
    assert problem_page(response) == {
        "status": 404,
        "error": "Not found",
        "detail": 'There is no member "apple" in collection "warehouse".',
    }


def test_a_bad_name_in_the_url_is_refused_with_a_page(client):
    response = client.get("/collections/warehouse/members/%20/move")
    assert problem_page(response) == {
        "status": 400,
        "error": "Invalid input",
        "detail": "member: must not be only whitespace",
    }


def test_the_form_needs_its_csrf_token(client, seed, stored):
    seed(warehouse={"apple": 30}, shop={})
    form = {"collection": "shop", "member": "apple", "quantity": "1"}
    response = client.post(MOVE, data=form)
    assert problem_page(response) == {
        "status": 400,
        "error": "Bad request",
        "detail": "The CSRF token is missing.",
    }
    assert stored() == {"warehouse": {"apple": 30}, "shop": {}}


# --- Who may move -----------------------------------------------------------------


@pytest.mark.parametrize("role", ["clerk", "admin"])
def test_clerks_and_admins_move_under_their_name(closed, seed, stored, movements, role):
    seed(warehouse={"apple": 30}, shop={})
    browser = closed(role)
    assert browser.get(MOVE).status_code == 200
    assert "Move apple…" in text_of(browser.get("/collections/warehouse"))
    assert move(browser, "3").status_code == 303
    assert stored() == {"warehouse": {"apple": 27}, "shop": {"apple": 3}}
    assert {m["by"] for m in movements("shop")} == {role}


def test_a_viewer_has_no_move_link_and_is_refused(closed, seed, stored):
    seed(warehouse={"apple": 30}, shop={})
    viewer = closed("viewer")
    assert "/move" not in text_of(viewer.get("/collections/warehouse"))
    refused = {
        "status": 403,
        "error": "Forbidden",
        "detail": "Only a clerk or an admin may do this; you are logged in as"
        " viewer, a viewer.",
    }
    assert problem_page(viewer.get(MOVE)) == refused
    assert problem_page(move(viewer, "3")) == refused
    assert stored() == {"warehouse": {"apple": 30}, "shop": {}}


def test_anonymous_is_sent_to_log_in(closed, seed, stored):
    seed(warehouse={"apple": 30}, shop={})
    anonymous = closed(None)
    for response in (anonymous.get(MOVE), move(anonymous, "3")):
        assert response.status_code == 303
        assert response.headers["Location"] == f"/log-in?next={MOVE}"
    assert stored() == {"warehouse": {"apple": 30}, "shop": {}}


def test_a_token_limited_to_some_collections_moves_only_between_them(
    client, seed, stored, make_user, make_token
):
    seed(warehouse={"apple": 30}, shop={}, attic={})
    make_user("ann", "clerk")
    limited = {
        **bearer(make_token("ann", "write", ["warehouse", "attic"])),
        "Accept": "text/html",
    }
    page = text_of(client.get(MOVE, headers=limited))
    assert _OPTION.findall(page) == [(" selected", "attic"), ("", "warehouse")]
    token = csrf_token_of(text_of(client.get("/log-in")))
    form = {"collection": "shop", "member": "apple", "quantity": "1"}
    response = client.post(MOVE, data={**form, "csrf_token": token}, headers=limited)
    assert response.status_code == 409
    assert field_errors(text_of(response)) == {
        "collection": "To collection shop does not exist"
    }
    # Nor may it start from a collection it may not see.
    response = client.get("/collections/shop/members/apple/move", headers=limited)
    assert problem_page(response)["status"] == 404
    assert stored() == {"warehouse": {"apple": 30}, "shop": {}, "attic": {}}
