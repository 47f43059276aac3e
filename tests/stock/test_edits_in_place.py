"""The collection page's edits as htmx posts them: the answer is the member's
row alone, and a notice for the page's live region, with the status a browser
without script gets (200 for a success instead of the redirect, 400 and 409
for a refusal). The stored state is read back after each one.
"""

from __future__ import annotations

import html
import re

import pytest
from helpers import csrf_token_of

IN_PLACE = {"HX-Request": "true"}
_NOTICE = re.compile(
    r'<div id="notice" hx-swap-oob="innerHTML">'
    r'<p class="flash (\w+)"><span>(.*?)</span>'
    r' <button type="button" class="dismiss">Dismiss</button></p></div>',
    re.S,
)
_ROW_ID = re.compile(r'<tr id="member-(\d+)" hx-target="this" hx-swap="outerHTML">')
_QUANTITY = re.compile(r'<td class="quantity" data-label="Quantity">(\d+)')


def notice(page: str) -> tuple[str, str]:
    """(kind, text) of the answer's notice; there is exactly one."""
    (found,) = _NOTICE.findall(page)
    return found[0], html.unescape(found[1])


def rows(page: str) -> list[str]:
    """The row numbers of the rows the answer holds."""
    return _ROW_ID.findall(page)


@pytest.fixture
def post_in_place(client):
    """Post a row's form as htmx does (with a valid CSRF token): the response."""

    def post(path: str, **form: str):
        token = csrf_token_of(client.get("/log-in").get_data(as_text=True))
        data = {**form, "csrf_token": token}
        return client.post(path, data=data, headers=IN_PLACE)

    return post


def version_of(client, member: str) -> str:
    return client.get(f"/stock/fruit/{member}").headers["ETag"].strip('"')


def test_an_adjustment_answers_with_its_row_and_a_notice(
    client, seed, stored, post_in_place
):
    seed(fruit={"apple": 30, "pear": 3})
    response = post_in_place(
        "/collections/fruit/members/apple/adjustments",
        amount="4",
        reason="sold",
        direction="take",
        row="31",
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<html" not in page and "<header" not in page
    # Only apple's row, numbered as the page numbered it (its fields' ids).
    assert rows(page) == ["31"]
    assert 'id="amount-31"' in page and 'id="take-31"' in page
    assert _QUANTITY.findall(page) == ["26"]
    assert '<p class="done">Took 4 from apple: it now holds 26.</p>' in page
    assert notice(page) == ("success", "Took 4 from apple: it now holds 26.")
    assert stored() == {"fruit": {"apple": 26, "pear": 3}}


def test_a_refused_take_answers_with_why_beside_the_row_and_in_the_notice(
    client, seed, stored, post_in_place
):
    seed(fruit={"apple": 30})
    response = post_in_place(
        "/collections/fruit/members/apple/adjustments",
        amount="31",
        direction="take",
        row="2",
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    why = "Cannot take 31 from apple: it holds only 30. Nothing was changed."
    assert f'<p class="error" role="alert" id="row-2-error">{why}</p>' in page
    assert notice(page) == ("error", why)
    # The amount typed stays, pointing at why.
    assert 'id="amount-2" name="amount" type="number" value="31"' in page
    assert stored() == {"fruit": {"apple": 30}}


def test_a_bad_amount_answers_400_with_its_field_marked(
    client, seed, stored, post_in_place
):
    seed(fruit={"apple": 30})
    response = post_in_place(
        "/collections/fruit/members/apple/adjustments",
        amount="1.5",
        direction="add",
        row="1",
    )
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    why = "must be a whole number from 1 to 9223372036854775807"
    assert f'<p class="error" id="amount-1-error">Amount {why}</p>' in page
    assert notice(page) == ("error", f"Amount {why}")
    assert stored() == {"fruit": {"apple": 30}}


def test_a_stale_set_answers_409_naming_the_change_and_linking_history(
    client, seed, stored, post_in_place
):
    seed(fruit={"apple": 30})
    shown = version_of(client, "apple")
    client.post("/stock/fruit/apple/adjustments", json={"delta": 1})
    response = post_in_place(
        "/collections/fruit/members/apple/quantity", qty="5", version=shown, row="3"
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    why = (
        "apple was changed meanwhile: it now holds 31. Nothing was changed;"
        " check it and try again."
    )
    assert notice(page) == ("error", why)
    assert (
        '<a class="inline-link" href="/collections/fruit/members/apple/history">'
        "History of apple</a>" in page
    )
    # The row carries the new version, so the next set can go through.
    assert f'name="version" value="{version_of(client, "apple")}"' in page
    assert stored() == {"fruit": {"apple": 31}}


def test_a_set_and_a_reorder_level_answer_in_place(client, seed, stored, post_in_place):
    seed(fruit={"apple": 30})
    response = post_in_place(
        "/collections/fruit/members/apple/quantity",
        qty="12",
        version=version_of(client, "apple"),
        row="1",
    )
    assert response.status_code == 200
    assert notice(response.get_data(as_text=True)) == ("success", "apple set to 12.")
    response = post_in_place(
        "/collections/fruit/members/apple/reorder-level",
        level="15",
        version=version_of(client, "apple"),
        row="1",
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert notice(page) == ("success", "Reorder level of apple set to 15.")
    assert '12 <span class="low">low</span>' in page
    assert stored() == {"fruit": {"apple": 12}}
    assert client.get("/stock/fruit/apple/reorder-level").get_json() == 15


def test_a_member_removed_meanwhile_answers_with_a_row_that_says_so(
    client, seed, stored, post_in_place
):
    seed(fruit={"apple": 30, "pear": 1})
    shown = version_of(client, "apple")
    client.delete("/stock/fruit/apple")
    response = post_in_place(
        "/collections/fruit/members/apple/quantity", qty="3", version=shown, row="1"
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    why = "apple was removed meanwhile; nothing was changed."
    assert f'<td colspan="3"><p class="error" role="alert">{why}</p></td>' in page
    assert notice(page) == ("error", why)
    assert stored() == {"fruit": {"pear": 1}}


@pytest.mark.parametrize("given", [None, "", "0", "-1", "201", "x", "١", "9" * 40])
def test_a_row_number_out_of_the_page_is_row_1(client, seed, post_in_place, given):
    seed(fruit={"apple": 30})
    form = {"amount": "1", "direction": "add"}
    if given is not None:
        form["row"] = given
    response = post_in_place("/collections/fruit/members/apple/adjustments", **form)
    assert response.status_code == 200
    assert rows(response.get_data(as_text=True)) == ["1"]


def test_without_htmx_the_same_post_redirects_back(client, seed, stored):
    seed(fruit={"apple": 30})
    token = csrf_token_of(client.get("/log-in").get_data(as_text=True))
    response = client.post(
        "/collections/fruit/members/apple/adjustments?sort=-quantity",
        data={"amount": "1", "direction": "add", "row": "1", "csrf_token": token},
    )
    assert response.status_code == 303
    # Back to the row by its anchor.
    assert response.headers["Location"] == "/collections/fruit?sort=-quantity#member-1"
    assert stored() == {"fruit": {"apple": 31}}


def test_the_page_loads_htmx_from_the_app_and_marks_the_rows(client, seed):
    seed(fruit={"apple": 30})
    page = client.get("/collections/fruit").get_data(as_text=True)
    scripts = re.findall(r'<script src="([^"]+)" defer></script>', page)
    assert scripts == [
        "/static/vendor/htmx-2.0.11.min.js",
        "/static/notice.js",
        "/static/local-times.js",
        "/static/shortcuts.js",
    ]
    openings = (b"var htmx=", b"// The notice", b"// Times are", b'// "/" goes')
    for script, opening in zip(scripts, openings, strict=True):
        served = client.get(script)
        assert served.status_code == 200
        assert served.data.startswith(opening)
        served.close()
    # The live region is there before anything is said in it.
    assert (
        '<div id="notice" class="notice" aria-live="polite" aria-atomic="true"></div>'
        in page
    )
    assert rows(page) == ["1"]
    assert (
        'hx-post="/collections/fruit/members/apple/adjustments"' in page
        and 'action="/collections/fruit/members/apple/adjustments"' in page
    )


def test_a_code_is_set_in_its_row_and_a_bad_or_taken_one_refused(
    client, seed, post_in_place
):
    seed(fruit={"apple": 30, "pear": 1})
    response = post_in_place(
        "/collections/fruit/members/apple/code",
        code="4006381333931",
        version=version_of(client, "apple"),
        row="1",
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert notice(page) == ("success", "Code of apple set to 4006381333931.")
    assert rows(page) == ["1"]
    assert 'id="code-1" name="code" type="text" value="4006381333931"' in page
    assert client.get("/stock/fruit/apple/code").get_json() == "4006381333931"

    bad = post_in_place(
        "/collections/fruit/members/pear/code",
        code="4006381333932",
        version=version_of(client, "pear"),
        row="2",
    )
    assert bad.status_code == 400
    page = bad.get_data(as_text=True)
    assert '<p class="error" id="code-2-error">Code is not a valid EAN-13' in page
    assert '<details class="more" open>' in page
    taken = post_in_place(
        "/collections/fruit/members/pear/code",
        code="4006381333931",
        version=version_of(client, "pear"),
        row="2",
    )
    assert taken.status_code == 409
    assert 'The code "4006381333931" is carried by apple in fruit' in html.unescape(
        taken.get_data(as_text=True)
    )
    assert client.get("/stock/fruit/pear/code").get_json() is None
