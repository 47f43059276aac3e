"""The collection page: members sorted and paged, and each edit a clerk makes.

A set (quantity, reorder level) is a form posted with the version the page
showed; an adjustment needs none. Each is posted as a browser without script
does (the whole page comes back) and as htmx does (the member's row alone, with
the notice for the page's live region). The stored state is read back after
each one.
"""

from __future__ import annotations

import base64
import html
import json
import random
import re
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from helpers import bearer, csrf_token_of, login, pages_from, problem_page

from stockapp.core.rules import MAX_QUANTITY

_ROW = re.compile(
    r'<th scope="row" class="name"><a href="[^"]+">(.*?)</a></th>\s*'
    r'<td class="quantity" data-label="Quantity">([\d,]+)'
    r'( <span class="low">low</span>)?'
    r'</td>\s*<td class="quantity level" data-label="Reorder level">(.*?)</td>',
    re.S,
)
_FLASH = re.compile(r'<p class="flash (\w+)" role="status">(.*?)</p>', re.S)
_ALERT = re.compile(r'<p class="error" role="alert"(?: id="[\w-]+")?>(.*?)</p>', re.S)
_NEXT = re.compile(r'<a href="([^"]+)" rel="next">Next page</a>')
_PREVIOUS = re.compile(r'<a href="([^"]+)" rel="prev">Previous page</a>')
_RANGE = re.compile(r'<p class="range">(.*?)</p>')


def members_shown(page: str) -> list[tuple[str, int, str, bool]]:
    """(member, quantity, reorder level as shown, marked low) of each row."""
    return [
        (
            html.unescape(name),
            int(quantity.replace(",", "")),
            html.unescape(level),
            bool(low),
        )
        for name, quantity, low, level in _ROW.findall(page)
    ]


def flashes(page: str) -> list[tuple[str, str]]:
    return [(kind, html.unescape(text)) for kind, text in _FLASH.findall(page)]


def alerts(page: str) -> list[str]:
    return [html.unescape(text) for text in _ALERT.findall(page)]


def text_of(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def version(client):
    """The member's version as the API tags it (what the page's forms carry)."""

    def of(collection: str, member: str) -> str:
        response = client.get(f"/stock/{quote(collection)}/{quote(member)}")
        assert response.status_code == 200
        return response.headers["ETag"].strip('"')

    return of


@pytest.fixture
def collection_version(client):
    def of(collection: str) -> str:
        return client.get(f"/stock/{quote(collection)}").headers["ETag"].strip('"')

    return of


@pytest.fixture
def post_form(client):
    """Post a page's form (with a valid CSRF token): the response."""

    def post(path: str, **form: str):
        token = csrf_token_of(text_of(client.get("/log-in")))
        return client.post(path, data={**form, "csrf_token": token})

    return post


@pytest.fixture
def movements(rows):
    def read(member: str) -> list[dict]:
        return rows(
            'SELECT kind, "before", "after", reason, by FROM movements'
            " WHERE member = :member ORDER BY id",
            member=member,
        )

    return read


# --- Reading ------------------------------------------------------------------


def test_the_page_lists_members_by_name_with_their_levels(client, seed):
    seed(fruit={"pear": 2, "apple": 30, "fig": 0})
    client.put("/stock/fruit/pear/reorder-level", json=5)
    response = client.get("/collections/fruit")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    page = text_of(response)
    assert '<h1>fruit <span class="count">3 members</span></h1>' in page
    assert members_shown(page) == [
        ("apple", 30, "—", False),
        ("fig", 0, "—", False),
        ("pear", 2, "5", True),
    ]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["a", "b", "c", "d"]),
        ("-name", ["d", "c", "b", "a"]),
        # Equal quantities keep their creation order (b before d).
        ("quantity", ["c", "b", "d", "a"]),
        ("-quantity", ["a", "d", "b", "c"]),
    ],
)
def test_members_sort_by_name_or_quantity(client, seed, sort, expected):
    seed(shelf={"b": 5, "d": 5, "a": 9, "c": 1})
    page = text_of(client.get(f"/collections/shelf?sort={sort}"))
    assert [name for name, *_ in members_shown(page)] == expected


@pytest.mark.parametrize("sort", ["name", "-name", "quantity", "-quantity"])
def test_every_member_is_shown_once_across_the_pages(client, seed, sort):
    generator = random.Random(sort)
    stock = {f"m{number:03}": generator.randrange(6) for number in range(123)}
    seed(big=stock)
    pages = list(pages_from(client, f"/collections/big?sort={sort}", "Next page"))
    assert len(pages) == 3
    seen = [
        (name, quantity) for page in pages for name, quantity, *_ in members_shown(page)
    ]
    by_id = list(stock)  # creation order breaks ties
    keys = {
        "name": lambda item: item[0],
        "quantity": lambda item: (item[1], by_id.index(item[0])),
    }
    expected = sorted(
        stock.items(), key=keys[sort.lstrip("-")], reverse=sort.startswith("-")
    )
    assert seen == expected


def where_it_stands(page: str) -> list[str]:
    """What the page says of its place, above the members and below them."""
    return _RANGE.findall(page)


def follow(client, page: str, link: re.Pattern) -> str:
    return text_of(client.get(html.unescape(link.search(page).group(1))))


def names_on(page: str) -> list[str]:
    return [name for name, *_ in members_shown(page)]


@pytest.mark.parametrize("sort", ["name", "-name", "quantity", "-quantity"])
def test_previous_walks_back_over_the_same_pages(client, seed, sort):
    generator = random.Random(sort)
    seed(big={f"m{number:03}": generator.randrange(6) for number in range(230)})
    forward = list(
        pages_from(client, f"/collections/big?sort={sort}&size=100", "Next page")
    )
    assert [where_it_stands(page) for page in forward] == [
        ["1–100 of 230"] * 2,
        ["101–200 of 230"] * 2,
        ["201–230 of 230"] * 2,
    ]
    assert _PREVIOUS.search(forward[0]) is None and _NEXT.search(forward[-1]) is None
    back = [forward[-1]]
    while _PREVIOUS.search(back[-1]):
        back.append(follow(client, back[-1], _PREVIOUS))
    back.reverse()
    assert [names_on(page) for page in back] == [names_on(page) for page in forward]
    assert [where_it_stands(page) for page in back] == [
        where_it_stands(page) for page in forward
    ]
    # Each link keeps the sort and the size.
    assert "size=100" in _NEXT.search(back[0]).group(1)
    assert f"sort={quote(sort)}" in _NEXT.search(back[0]).group(1)


def test_the_heading_counts_the_members_and_the_sizes_are_offered(client, seed):
    seed(big={f"m{number:04}": 1 for number in range(1234)})
    page = text_of(client.get("/collections/big?sort=-name"))
    assert '<h1>big <span class="count">1,234 members</span></h1>' in page
    assert where_it_stands(page) == ["1–50 of 1,234"] * 2
    assert len(members_shown(page)) == 50
    sizes = re.findall(
        r'<a href="([^"]+)"( aria-current="true")?>(\d+)'
        r'<span class="visually-hidden"> members a page</span></a>',
        page,
    )
    assert sizes == [
        ("/collections/big?sort=-name", ' aria-current="true"', "50"),
        ("/collections/big?sort=-name&amp;size=100", "", "100"),
        ("/collections/big?sort=-name&amp;size=200", "", "200"),
    ]
    bigger = text_of(client.get("/collections/big?sort=-name&size=200"))
    assert len(members_shown(bigger)) == 200
    assert where_it_stands(bigger) == ["1–200 of 1,234"] * 2
    assert names_on(bigger)[0] == "m1233"


def test_a_search_counts_only_the_members_it_finds(client, seed):
    seed(fruit={f"apple{number:02}": 1 for number in range(60)} | {"pear": 1})
    page = text_of(client.get("/collections/fruit?q=APPLE"))
    assert "<h1>fruit</h1>" in page
    assert where_it_stands(page) == ["1–50 of 60"] * 2
    second = follow(client, page, _NEXT)
    assert where_it_stands(second) == ["51–60 of 60"] * 2
    assert names_on(follow(client, second, _PREVIOUS)) == names_on(page)


def test_a_page_emptied_meanwhile_says_so_and_leads_back(client, seed):
    seed(big={f"m{number:03}": number for number in range(60)})
    next_url = html.unescape(
        _NEXT.search(text_of(client.get("/collections/big"))).group(1)
    )
    for number in range(50, 60):
        assert client.delete(f"/stock/big/m{number:03}").status_code == 204
    page = text_of(client.get(next_url))
    assert members_shown(page) == []
    assert where_it_stands(page) == ["None of 50 here"] * 2
    assert '<a href="/collections/big?sort=name">First page</a>' in page


def test_a_page_beyond_a_deleted_member_still_follows_on(client, seed):
    seed(big={f"m{number:03}": number for number in range(60)})
    page = text_of(client.get("/collections/big"))
    next_url = html.unescape(_NEXT.search(page).group(1))
    # The last member shown is deleted before the next page is asked for.
    assert client.delete("/stock/big/m049").status_code == 204
    rest = members_shown(text_of(client.get(next_url)))
    assert [name for name, *_ in rest] == [f"m{number:03}" for number in range(50, 60)]


def test_find_shows_the_members_whose_name_holds_the_text(client, seed):
    seed(fruit={"Apple": 1, "pineapple": 2, "pear": 3, "100%": 4, "a_b": 5, "axb": 6})
    found = {
        text: [name for name, *_ in members_shown(text_of(client.get(url)))]
        for text, url in {
            "APP": "/collections/fruit?q=APP",
            "%": "/collections/fruit?q=%25",
            "_": "/collections/fruit?q=_",
            "none": "/collections/fruit?q=kiwi",
        }.items()
    }
    # Ignoring case; % and _ are themselves, not wildcards.
    assert found == {
        "APP": ["Apple", "pineapple"],
        "%": ["100%"],
        "_": ["a_b"],
        "none": [],
    }


@pytest.mark.parametrize(
    ("query", "field", "why"),
    [
        ("sort=size", "sort", "must be one of name, -name, quantity, -quantity"),
        ("size=75", "size", "must be one of 50, 100, 200"),
        ("size=", "size", "must be one of 50, 100, 200"),
        ("size=050", "size", "must be one of 50, 100, 200"),
        ("cursor=xyz", "cursor", "is not a cursor this page gave out"),
        ("q=" + "x" * 101, "q", "must be at most 100 characters"),
    ],
)
def test_a_bad_query_is_refused_with_a_page(client, seed, query, field, why):
    seed(fruit={"apple": 1})
    response = client.get(f"/collections/fruit?{query}")
    assert problem_page(response) == {
        "status": 400,
        "error": "Invalid input",
        "detail": f"{field}: {why}",
    }


def test_one_sorts_cursor_is_refused_by_another(client, seed):
    seed(big={f"m{number:03}": number for number in range(60)})
    page = text_of(client.get("/collections/big?sort=quantity"))
    cursor = re.search(r"cursor=([^&\"]+)", _NEXT.search(page).group(1)).group(1)
    response = client.get(f"/collections/big?sort=name&cursor={cursor}")
    assert problem_page(response)["detail"] == (
        "cursor: is not a cursor this page gave out"
    )


@pytest.mark.parametrize("key", [2**63, -1, 1.0, "1"])
def test_a_sort_cursor_naming_an_impossible_id_is_refused(client, seed, key):
    seed(big={f"m{number:03}": number for number in range(60)})
    position = json.dumps(["quantity", 5, key], separators=(",", ":"))
    raw = f"members:{position}".encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = client.get(f"/collections/big?sort=quantity&cursor={cursor}")
    assert problem_page(response)["detail"] == (
        "cursor: is not a cursor this page gave out"
    )


def test_a_missing_collection_is_a_404_page(client):
    assert problem_page(client.get("/collections/nothing")) == {
        "status": 404,
        "error": "Not found",
        "detail": 'There is no collection "nothing".',
    }


def test_a_bad_name_in_the_url_is_refused_with_a_page(client):
    response = client.get("/collections/" + "x" * 101)
    assert problem_page(response) == {
        "status": 400,
        "error": "Invalid input",
        "detail": "collection: must be 1 to 100 characters long",
    }


def test_reading_a_page_costs_the_same_statements_at_any_size(
    client, seed, count_statements
):
    counts = {}
    for size in (3, 300):
        seed(**{f"c{size}": {f"m{number}": number for number in range(size)}})
        with count_statements() as statements:
            assert client.get(f"/collections/c{size}?sort=-quantity").status_code == 200
        counts[size] = len(statements)
    assert counts[3] == counts[300]


# --- Adjusting ------------------------------------------------------------------


def test_taking_stock_with_a_reason_is_stored_and_said(
    client, seed, stored, version, post_form, movements
):
    seed(fruit={"apple": 30})
    response = post_form(
        "/collections/fruit/members/apple/adjustments?sort=-quantity",
        amount="5",
        reason="sold",
        direction="take",
        version=version("fruit", "apple"),
    )
    assert response.status_code == 303
    # Back to the page of members the form was on, at the form's row.
    assert response.headers["Location"] == "/collections/fruit?sort=-quantity#member-1"
    assert stored() == {"fruit": {"apple": 25}}
    assert movements("apple")[-1] == {
        "kind": "adjust",
        "before": 30,
        "after": 25,
        "reason": "sold",
        "by": None,
    }
    page = text_of(client.get("/collections/fruit"))
    assert flashes(page) == [("success", "Took 5 from apple: it now holds 25.")]


def test_adding_stock_without_a_reason_is_stored_and_said(
    client, seed, stored, version, post_form, movements
):
    seed(fruit={"apple": 30})
    response = post_form(
        "/collections/fruit/members/apple/adjustments",
        amount="007",
        reason="  ",
        direction="add",
        version=version("fruit", "apple"),
    )
    assert response.headers["Location"] == "/collections/fruit#member-1"
    assert stored() == {"fruit": {"apple": 37}}
    assert movements("apple")[-1]["reason"] is None
    page = text_of(client.get("/collections/fruit"))
    assert flashes(page) == [("success", "Added 7 to apple: it now holds 37.")]


def test_taking_more_than_there_is_is_refused_beside_the_member(
    refused, client, seed, stored, version, post_form, movements
):
    seed(fruit={"apple": 30, "pear": 1})
    response = post_form(
        "/collections/fruit/members/apple/adjustments",
        amount="31",
        reason="sold",
        direction="take",
        version=version("fruit", "apple"),
    )
    response = refused(response)
    page = text_of(response)
    assert alerts(page) == [
        "Cannot take 31 from apple: it holds only 30. Nothing was changed."
    ]
    # The refusal is the Amount field's description, for a screen reader.
    assert '<p class="error" role="alert" id="row-1-error">' in page
    assert (
        'id="amount-1" name="amount" type="number" value="31" required'
        ' inputmode="numeric" placeholder="Amount" autofocus aria-invalid="true"'
        ' aria-describedby="row-1-error">'
    ) in page
    # What was typed stays in the form, for the clerk to correct.
    assert 'id="reason-1" name="reason" type="text" value="sold"' in page
    assert stored() == {"fruit": {"apple": 30, "pear": 1}}
    assert [move["kind"] for move in movements("apple")] == ["create"]


def test_adding_past_the_largest_quantity_is_refused(
    refused, client, seed, stored, version, post_form
):
    seed(fruit={"apple": MAX_QUANTITY - 1})
    response = post_form(
        "/collections/fruit/members/apple/adjustments",
        amount="2",
        direction="add",
        version=version("fruit", "apple"),
    )
    response = refused(response)
    assert alerts(text_of(response)) == [
        f"Cannot add 2 to apple: it holds {MAX_QUANTITY - 1}, and at most"
        f" {MAX_QUANTITY} fits. Nothing was changed."
    ]
    assert stored() == {"fruit": {"apple": MAX_QUANTITY - 1}}


def test_an_adjustment_applies_to_what_the_member_holds_now(
    client, seed, stored, version, post_form, movements
):
    seed(fruit={"apple": 30})
    shown = version("fruit", "apple")
    # Someone else sets it meanwhile: taking 5 is still right (no If-Match).
    client.put("/stock/fruit/apple", json=12)
    response = post_form(
        "/collections/fruit/members/apple/adjustments",
        amount="5",
        reason="sold",
        direction="take",
        version=shown,
    )
    assert response.status_code == 303
    follow = client.get(response.headers["Location"])
    assert flashes(text_of(follow)) == [
        ("success", "Took 5 from apple: it now holds 7.")
    ]
    assert stored() == {"fruit": {"apple": 7}}
    assert movements("apple")[-1] == {
        "kind": "adjust",
        "before": 12,
        "after": 7,
        "reason": "sold",
        "by": None,
    }


def test_an_adjustment_needs_no_version(client, seed, stored, post_form):
    seed(fruit={"apple": 30})
    response = post_form(
        "/collections/fruit/members/apple/adjustments", amount="2", direction="add"
    )
    assert response.status_code == 303
    assert stored() == {"fruit": {"apple": 32}}


def test_a_stale_set_names_who_changed_the_member_and_links_its_history(
    refused, client, seed, stored, version, post_form, make_user, make_token
):
    seed(fruit={"apple": 30})
    shown = version("fruit", "apple")
    make_user("alice", "clerk")
    token = make_token("alice", "write")
    client.put("/stock/fruit/apple", json=12)
    # The last change is alice's, of the reorder level: that is logged too.
    client.put("/stock/fruit/apple/reorder-level", json=4, headers=bearer(token))
    response = post_form(
        "/collections/fruit/members/apple/quantity", qty="20", version=shown
    )
    response = refused(response)
    page = text_of(response)
    assert alerts(page) == [
        "apple was changed meanwhile (the last change in its history is by"
        " alice): it now holds 12 (reorder level 4). Nothing was changed; check"
        ' it and try again. <a class="inline-link"'
        ' href="/collections/fruit/members/apple/history">History of apple</a>'
    ]
    assert stored() == {"fruit": {"apple": 12}}
    # The page shows what it holds now, with the new version in its forms.
    assert members_shown(page) == [("apple", 12, "4", False)]
    assert f'name="version" value="{version("fruit", "apple")}"' in page


def test_an_edit_of_a_member_removed_meanwhile_says_so(
    refused, client, seed, stored, version, post_form
):
    seed(fruit={"apple": 30, "pear": 1})
    shown = version("fruit", "apple")
    client.delete("/stock/fruit/apple")
    response = post_form(
        "/collections/fruit/members/apple/quantity", qty="3", version=shown
    )
    response = refused(response)
    # Not on the page any more: said at the top.
    assert alerts(text_of(response)) == [
        "apple was removed meanwhile; nothing was changed."
    ]
    assert stored() == {"fruit": {"pear": 1}}


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        ("", "must be a whole number from 1 to 9223372036854775807"),
        ("0", "must be a whole number from 1 to 9223372036854775807"),
        ("-1", "must be a whole number from 1 to 9223372036854775807"),
        ("1.5", "must be a whole number from 1 to 9223372036854775807"),
        ("1e3", "must be a whole number from 1 to 9223372036854775807"),
        ("٣", "must be a whole number from 1 to 9223372036854775807"),
        ("9" * 40, "must be a whole number from 1 to 9223372036854775807"),
    ],
)
def test_a_bad_amount_is_told_beside_its_field(
    refused, client, seed, stored, version, post_form, amount, why
):
    seed(fruit={"apple": 30})
    response = post_form(
        "/collections/fruit/members/apple/adjustments",
        amount=amount,
        direction="take",
        version=version("fruit", "apple"),
    )
    response = refused(response)
    page = text_of(response)
    assert 'id="amount-1" name="amount"' in page
    assert 'aria-invalid="true" aria-describedby="amount-1-error"' in page
    assert f'<p class="error" id="amount-1-error">Amount {why}</p>' in page
    assert stored() == {"fruit": {"apple": 30}}


@pytest.mark.parametrize(
    ("form", "field", "why"),
    [
        ({"direction": "sideways"}, "amount", "choose + to add or − to take"),
        ({"direction": ""}, "amount", "choose + to add or − to take"),
        ({"reason": "x" * 201}, "reason", "must be at most 200 characters long"),
        (
            {"reason": "bad\x00reason"},
            "reason",
            "must be valid Unicode without control characters",
        ),
    ],
)
def test_a_bad_direction_or_reason_is_refused(
    refused, client, seed, stored, version, post_form, form, field, why
):
    seed(fruit={"apple": 30})
    fields = {
        "amount": "1",
        "direction": "take",
        "version": version("fruit", "apple"),
        **form,
    }
    response = post_form("/collections/fruit/members/apple/adjustments", **fields)
    response = refused(response)
    label = field.capitalize()
    assert f'<p class="error" id="{field}-1-error">{label} {why}</p>' in html.unescape(
        text_of(response)
    )
    assert stored() == {"fruit": {"apple": 30}}


@pytest.mark.parametrize("version_field", [None, "", "abc", "-1", "1" * 30])
def test_a_set_without_a_good_version_changes_nothing(
    refused, client, seed, stored, post_form, version_field
):
    seed(fruit={"apple": 30})
    form = {"qty": "1"}
    if version_field is not None:
        form["version"] = version_field
    response = post_form("/collections/fruit/members/apple/quantity", **form)
    response = refused(response)
    assert alerts(text_of(response)) == [
        "This form's version is missing or damaged: reload the page and try again"
    ]
    assert stored() == {"fruit": {"apple": 30}}


# --- Setting the quantity and the reorder level ---------------------------------


def test_setting_the_quantity_is_stored_and_said(
    client, seed, stored, version, post_form, movements
):
    seed(fruit={"apple": 30})
    response = post_form(
        "/collections/fruit/members/apple/quantity",
        qty="12",
        version=version("fruit", "apple"),
    )
    assert response.status_code == 303
    assert stored() == {"fruit": {"apple": 12}}
    assert movements("apple")[-1]["kind"] == "replace"
    assert flashes(text_of(client.get("/collections/fruit"))) == [
        ("success", "apple set to 12.")
    ]


def test_a_set_quantity_is_logged_with_its_reason(
    client, seed, stored, version, post_form, movements
):
    seed(fruit={"apple": 30})
    response = post_form(
        "/collections/fruit/members/apple/quantity",
        qty="12",
        reason="  counted on the shelf ",
        version=version("fruit", "apple"),
    )
    assert response.status_code == 303
    assert movements("apple")[-1] == {
        "kind": "replace",
        "before": 30,
        "after": 12,
        "reason": "counted on the shelf",
        "by": None,
    }


def test_a_set_quantitys_reason_too_long_is_refused_and_kept(
    refused, client, seed, stored, version, post_form
):
    seed(fruit={"apple": 30})
    response = post_form(
        "/collections/fruit/members/apple/quantity",
        qty="12",
        reason="x" * 201,
        version=version("fruit", "apple"),
    )
    response = refused(response)
    page = text_of(response)
    assert '<p class="error" id="set-reason-1-error">Reason must be' in page
    assert f'id="set-reason-1" name="reason" type="text" value="{"x" * 201}"' in page
    assert '<details class="more" open>' in page
    assert stored() == {"fruit": {"apple": 30}}


def test_a_bad_quantity_is_told_beside_its_field_and_the_details_stay_open(
    refused, client, seed, stored, version, post_form
):
    seed(fruit={"apple": 30})
    response = post_form(
        "/collections/fruit/members/apple/quantity",
        qty="-4",
        version=version("fruit", "apple"),
    )
    response = refused(response)
    page = text_of(response)
    assert (
        '<p class="error" id="qty-1-error">New quantity must be a whole number from'
        f" 0 to {MAX_QUANTITY}</p>" in page
    )
    assert 'value="-4"' in page
    assert '<details class="more" open>' in page
    assert stored() == {"fruit": {"apple": 30}}


def test_a_stale_quantity_overwrites_nothing(
    refused, client, seed, stored, version, post_form
):
    seed(fruit={"apple": 30})
    shown = version("fruit", "apple")
    client.post("/stock/fruit/apple/adjustments", json={"delta": 1})
    response = post_form(
        "/collections/fruit/members/apple/quantity", qty="0", version=shown
    )
    response = refused(response)
    assert alerts(text_of(response))[0].startswith(
        "apple was changed meanwhile: it now holds 31. Nothing was changed"
    )
    assert stored() == {"fruit": {"apple": 31}}


def test_a_reorder_level_is_set_then_cleared(client, seed, version, post_form):
    seed(fruit={"apple": 3})
    response = post_form(
        "/collections/fruit/members/apple/reorder-level",
        level="5",
        version=version("fruit", "apple"),
    )
    assert response.status_code == 303
    assert client.get("/stock/fruit/apple/reorder-level").get_json() == 5
    page = text_of(client.get("/collections/fruit"))
    assert flashes(page) == [("success", "Reorder level of apple set to 5.")]
    assert members_shown(page) == [("apple", 3, "5", True)]

    response = post_form(
        "/collections/fruit/members/apple/reorder-level",
        level="",
        version=version("fruit", "apple"),
    )
    assert response.status_code == 303
    assert client.get("/stock/fruit/apple/reorder-level").get_json() is None
    page = text_of(client.get("/collections/fruit"))
    assert flashes(page) == [("success", "Reorder level of apple cleared.")]
    assert members_shown(page) == [("apple", 3, "—", False)]


def test_a_bad_reorder_level_changes_nothing(refused, client, seed, version, post_form):
    seed(fruit={"apple": 3})
    response = post_form(
        "/collections/fruit/members/apple/reorder-level",
        level="lots",
        version=version("fruit", "apple"),
    )
    response = refused(response)
    assert '<p class="error" id="level-1-error">Reorder level must be' in text_of(
        response
    )
    assert client.get("/stock/fruit/apple/reorder-level").get_json() is None


# --- Adding and deleting members ----------------------------------------------------


def test_a_member_is_added(client, seed, stored, post_form, movements):
    seed(fruit={"apple": 30})
    response = post_form("/collections/fruit/members", member="kiwi fruit", qty="4")
    assert response.status_code == 303
    assert stored() == {"fruit": {"apple": 30, "kiwi fruit": 4}}
    assert movements("kiwi fruit") == [
        {"kind": "replace", "before": None, "after": 4, "reason": None, "by": None}
    ]
    assert flashes(text_of(client.get("/collections/fruit"))) == [
        ("success", "kiwi fruit added to fruit with 4.")
    ]


def test_adding_an_existing_member_is_refused_and_changes_nothing(
    refused, client, seed, stored, post_form
):
    seed(fruit={"apple": 30})
    response = post_form("/collections/fruit/members", member="apple", qty="1")
    response = refused(response)
    assert (
        '<p class="error" id="member-error">Member already exists in fruit (it holds'
        " 30)</p>" in text_of(response)
    )
    # Beside it, the way to the member that exists.
    assert (
        '<p class="existing"><a href="/collections/fruit/members/apple">Open apple</a>'
        " to change what it holds.</p>" in text_of(response)
    )
    assert stored() == {"fruit": {"apple": 30}}


@pytest.mark.parametrize(
    ("member", "qty", "errors"),
    [
        ("", "1", {"member": "Member is required"}),
        ("a/b", "1", {"member": "Member must not contain &#39;/&#39;"}),
        ("x" * 101, "1", {"member": "Member must be 1 to 100 characters long"}),
        (
            "kiwi",
            "",
            {"new-qty": f"Quantity must be a whole number from 0 to {MAX_QUANTITY}"},
        ),
    ],
)
def test_a_bad_new_member_is_told_beside_its_field(
    refused, client, seed, stored, post_form, member, qty, errors
):
    seed(fruit={"apple": 30})
    response = post_form("/collections/fruit/members", member=member, qty=qty)
    response = refused(response)
    page = text_of(response)
    for field, message in errors.items():
        assert f'<p class="error" id="{field}-error">{message}</p>' in page
    assert stored() == {"fruit": {"apple": 30}}


def test_a_member_is_deleted_after_its_confirmation(
    client, seed, stored, post_form, movements
):
    seed(fruit={"apple": 30, "pear": 2})
    confirm = text_of(client.get("/collections/fruit/members/apple/delete"))
    assert "<h1>Delete apple from fruit?</h1>" in confirm
    assert "apple holds 30." in confirm
    shown = re.search(r'name="version" value="(\d+)"', confirm).group(1)
    response = post_form("/collections/fruit/members/apple/delete", version=shown)
    assert response.status_code == 303
    assert response.headers["Location"] == "/collections/fruit"
    assert stored() == {"fruit": {"pear": 2}}
    assert movements("apple")[-1]["kind"] == "delete"
    assert flashes(text_of(client.get("/collections/fruit"))) == [
        ("success", "apple deleted from fruit.")
    ]


def test_a_member_changed_since_its_confirmation_is_not_deleted(
    client, seed, stored, version, post_form
):
    seed(fruit={"apple": 30})
    shown = version("fruit", "apple")
    client.put("/stock/fruit/apple", json=31)
    response = post_form("/collections/fruit/members/apple/delete", version=shown)
    assert response.status_code == 409
    page = text_of(response)
    assert alerts(page) == [
        "apple was changed by someone else meanwhile. Check what it holds now and"
        " confirm again."
    ]
    assert "apple holds 31." in page
    assert stored() == {"fruit": {"apple": 31}}


def test_confirming_the_deletion_of_a_missing_member_is_a_404_page(client, seed):
    seed(fruit={"apple": 30})
    assert problem_page(client.get("/collections/fruit/members/kiwi/delete")) == {
        "status": 404,
        "error": "Not found",
        "detail": 'There is no member "kiwi" in collection "fruit".',
    }


# --- Deleting the collection --------------------------------------------------------


@pytest.fixture
def as_admin(client, make_user):
    """``client`` logged in as an admin, who alone may delete a collection."""
    make_user("boss", "admin")
    assert login(client, "boss").status_code == 303


def test_a_collection_is_deleted_once_its_name_is_typed(
    client, seed, stored, collection_version, post_form, rows, as_admin
):
    seed(fruit={"apple": 30, "pear": 2}, veg={"leek": 1})
    confirm = text_of(client.get("/collections/fruit/delete"))
    assert "fruit has 2 members holding 32 in all." in confirm
    response = post_form(
        "/collections/fruit/delete",
        confirm="fruit",
        version=collection_version("fruit"),
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert stored() == {"veg": {"leek": 1}}
    assert rows(
        "SELECT member, kind FROM movements WHERE kind = 'delete' ORDER BY id"
    ) == [{"member": "apple", "kind": "delete"}, {"member": "pear", "kind": "delete"}]
    assert flashes(text_of(client.get("/"))) == [
        ("success", "Collection fruit deleted.")
    ]


@pytest.mark.parametrize("typed", ["", "Fruit", "fruit ", "veg", '"><b>x'])
def test_a_collection_is_not_deleted_without_its_exact_name(
    client, seed, stored, collection_version, post_form, typed, as_admin
):
    seed(fruit={"apple": 30})
    response = post_form(
        "/collections/fruit/delete", confirm=typed, version=collection_version("fruit")
    )
    assert response.status_code == 400
    page = text_of(response)
    assert (
        '<p class="error" id="confirm-error">Name of the collection must be fruit,'
        " typed exactly, to delete it</p>" in page
    )
    # What was typed stays in the field, to be corrected rather than retyped.
    (kept,) = re.findall(
        r'<input id="confirm" name="confirm" type="text" value="([^"]*)"', page
    )
    assert html.unescape(kept) == typed
    assert stored() == {"fruit": {"apple": 30}}


def test_a_collection_changed_since_its_confirmation_is_not_deleted(
    client, seed, stored, collection_version, post_form, as_admin
):
    seed(fruit={"apple": 30})
    shown = collection_version("fruit")
    client.patch("/stock/fruit", json={"pear": 1})
    response = post_form("/collections/fruit/delete", confirm="fruit", version=shown)
    assert response.status_code == 409
    page = text_of(response)
    assert alerts(page) == [
        "fruit was changed by someone else meanwhile. Check what it holds now and"
        " confirm again."
    ]
    assert "fruit has 2 members holding 31 in all." in page
    assert stored() == {"fruit": {"apple": 30, "pear": 1}}


# --- Names, CSRF and roles ---------------------------------------------------


def test_members_with_any_characters_can_be_edited(client, seed, stored, version):
    name = 'a b?#%&"<é'
    seed(**{"odd/ish".replace("/", " "): {name: 5}})
    page = text_of(client.get("/collections/odd%20ish"))
    action = re.search(r'<form class="adjust" method="post" action="([^"]+)"', page)
    token = csrf_token_of(page)
    form = {
        "amount": "2",
        "direction": "add",
        "version": version("odd ish", name),
        "csrf_token": token,
    }
    response = client.post(html.unescape(action.group(1)), data=form)
    assert response.status_code == 303
    assert stored() == {"odd ish": {name: 7}}


EDITS = {
    "adjust": ("/collections/fruit/members/apple/adjustments", {"amount": "1"}),
    "quantity": ("/collections/fruit/members/apple/quantity", {"qty": "1"}),
    "level": ("/collections/fruit/members/apple/reorder-level", {"level": "1"}),
    "add": ("/collections/fruit/members", {"member": "kiwi", "qty": "1"}),
    "delete member": ("/collections/fruit/members/apple/delete", {}),
    "delete collection": ("/collections/fruit/delete", {"confirm": "fruit"}),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_every_edit_needs_the_csrf_token(
    client, seed, stored, version, edit, make_user
):
    seed(fruit={"apple": 30})
    make_user("boss", "admin")
    assert login(client, "boss").status_code == 303
    path, form = EDITS[edit]
    form = {**form, "direction": "add", "version": version("fruit", "apple")}
    response = client.post(path, data=form)
    assert problem_page(response) == {
        "status": 400,
        "error": "Bad request",
        "detail": "The CSRF token is missing.",
    }
    assert stored() == {"fruit": {"apple": 30}}


@pytest.fixture
def closed(make_app, make_user):
    """A browser on an app closed to anonymous callers, and a way to log in."""
    app = make_app(ANONYMOUS_ACCESS="none")
    for role in ("viewer", "clerk"):
        make_user(role, role)
    browser = app.test_client()

    def log_in(name: str):
        assert login(browser, name).status_code == 303
        return browser

    return log_in


def test_a_viewer_sees_the_members_but_no_control_that_changes_them(
    closed, client, seed
):
    seed(fruit={"apple": 30})
    page = text_of(closed("viewer").get("/collections/fruit"))
    assert members_shown(page) == [("apple", 30, "—", False)]
    for control in (
        "Add a member",
        "Take from",
        "Add to",
        "Delete",
        'method="post" action="/collections',
    ):
        assert control not in page


def test_a_clerk_may_not_delete_a_collection_and_is_not_offered_to(
    closed, client, seed, collection_version, stored
):
    seed(fruit={"apple": 30})
    clerk = closed("clerk")
    page = text_of(clerk.get("/collections/fruit"))
    assert "Delete fruit" not in page and "History of fruit" in page
    assert problem_page(clerk.get("/collections/fruit/delete"))["status"] == 403
    form = {
        "confirm": "fruit",
        "version": collection_version("fruit"),
        "csrf_token": csrf_token_of(page),
    }
    refused = problem_page(clerk.post("/collections/fruit/delete", data=form))
    assert refused["status"] == 403
    assert stored() == {"fruit": {"apple": 30}}
    # A member, though, is the clerk's to delete.
    assert clerk.get("/collections/fruit/members/apple/delete").status_code == 200


def test_an_admin_finds_the_deletion_under_more(client, seed, as_admin):
    seed(fruit={"apple": 30})
    page = text_of(client.get("/collections/fruit"))
    assert re.search(
        r'<details class="more">\s*<summary>More for fruit</summary>\s*'
        r'<p><a href="/collections/fruit/history">History of fruit</a></p>\s*'
        r'<p><a href="/collections/fruit/labels">Print labels of fruit…</a></p>\s*'
        r'<p><a href="/collections/fruit/trend">Stock over time of fruit</a></p>\s*'
        r'<p><a class="danger" href="/collections/fruit/delete">Delete fruit…</a></p>',
        page,
    )


def test_anonymous_access_may_not_delete_a_collection(
    client, seed, collection_version, post_form, stored
):
    # ANONYMOUS_ACCESS=write (the tutorial's setting) lets anyone change the
    # stock; deleting a whole collection from a page still needs an admin.
    seed(fruit={"apple": 30})
    assert "Delete fruit" not in text_of(client.get("/collections/fruit"))
    response = post_form(
        "/collections/fruit/delete",
        confirm="fruit",
        version=collection_version("fruit"),
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/log-in?next=")
    assert stored() == {"fruit": {"apple": 30}}


def test_a_viewer_may_not_open_a_deletion(closed, client, seed):
    seed(fruit={"apple": 30})
    viewer = closed("viewer")
    for path in (
        "/collections/fruit/delete",
        "/collections/fruit/members/apple/delete",
    ):
        assert problem_page(viewer.get(path))["status"] == 403


def test_a_clerks_edit_is_logged_under_their_name(
    closed, client, seed, version, movements
):
    seed(fruit={"apple": 30})
    clerk = closed("clerk")
    page = text_of(clerk.get("/collections/fruit"))
    form = {
        "amount": "3",
        "direction": "take",
        "reason": "broken",
        "version": version("fruit", "apple"),
        "csrf_token": csrf_token_of(page),
    }
    response = clerk.post("/collections/fruit/members/apple/adjustments", data=form)
    assert response.status_code == 303
    assert movements("apple")[-1] == {
        "kind": "adjust",
        "before": 30,
        "after": 27,
        "reason": "broken",
        "by": "clerk",
    }


@pytest.fixture
def plans_of(app):
    """SQLite's plan of each statement a request sends that reads ``members``."""
    from sqlalchemy import event

    from stockapp.core.extensions import db

    @contextmanager
    def capture():
        sent = []

        def record(conn, cursor, statement, parameters, context, executemany):
            if statement.startswith("SELECT") and "FROM members" in statement:
                sent.append((statement, parameters))

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        plans: list[str] = []
        try:
            yield plans
        finally:
            event.remove(engine, "before_cursor_execute", record)
        with app.app_context(), engine.connect() as connection:
            for statement, parameters in sent:
                rows = connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {statement}", parameters
                )
                plans.append(" | ".join(row[-1] for row in rows))

    return capture


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("sort", "seek"),
    [
        ("name", "(collection_id=? AND name>?)"),
        ("-name", "(collection_id=? AND name<?)"),
        ("quantity", "(collection_id=? AND quantity>?)"),
        ("-quantity", "(collection_id=? AND quantity<?)"),
    ],
)
def test_a_later_page_seeks_its_index_to_the_spot(client, seed, plans_of, sort, seek):
    """Page 1000 costs what page 1 does: the index is entered at the cursor,
    not walked from the collection's start, and nothing is sorted."""
    seed(big={f"m{number:03}": number % 7 for number in range(60)})
    page = text_of(client.get(f"/collections/big?sort={sort}"))
    next_url = html.unescape(_NEXT.search(page).group(1))
    with plans_of() as plans:
        assert client.get(next_url).status_code == 200
    page, counts = plans
    assert seek in page, page
    assert "TEMP B-TREE" not in page, page
    # Where the page stands is counted from an index alone, never the table.
    assert "COVERING INDEX" in counts, counts


def test_a_refusal_without_script_returns_to_its_page_and_is_not_posted_again(
    client, seed, stored, version, post_form
):
    seed(fruit={"apple": 30, "pear": 2})
    response = post_form(
        "/collections/fruit/members/pear/adjustments?sort=quantity",
        amount="5",
        reason="sold",
        direction="take",
        row="1",  # pear is the first row by quantity
    )
    # Post/redirect/get, as for a success: a reload asks for the page only.
    assert response.status_code == 303
    # No anchor: the refused field's autofocus brings its row into view.
    assert response.headers["Location"] == "/collections/fruit?sort=quantity"
    page = text_of(client.get(response.headers["Location"]))
    assert alerts(page) == [
        "Cannot take 5 from pear: it holds only 2. Nothing was changed."
    ]
    assert 'id="amount-1" name="amount" type="number" value="5"' in page
    assert stored() == {"fruit": {"apple": 30, "pear": 2}}


def test_a_refusal_kept_for_one_page_is_not_shown_on_another(client, seed, post_form):
    seed(fruit={"apple": 30}, veg={"leek": 1})
    response = post_form(
        "/collections/fruit/members/apple/adjustments", amount="31", direction="take"
    )
    assert response.status_code == 303
    assert alerts(text_of(client.get("/collections/veg"))) == []
    # ... and it was dropped, not left for later.
    assert alerts(text_of(client.get("/collections/fruit"))) == []


def test_a_refused_value_is_kept_cut_to_a_length(client, seed, refused, post_form):
    from stockapp.stock.refusals import KEPT_LENGTH

    seed(fruit={"apple": 30})
    response = post_form(
        "/collections/fruit/members/apple/adjustments",
        amount="1",
        reason="x" * 5000,
        direction="take",
    )
    page = text_of(refused(response))
    assert f'value="{"x" * KEPT_LENGTH}"' in page
    assert "x" * (KEPT_LENGTH + 1) not in page
