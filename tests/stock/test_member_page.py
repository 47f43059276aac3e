"""A member's own page, /collections/<c>/members/<m>: what it holds, its edits
(which come back to it), and its latest movements. Each edit is posted as a
browser without script does; the stored state is read back after it."""

from __future__ import annotations

import html
import re

import pytest
from helpers import csrf_token_of, login, problem_page

PAGE = "/collections/fruit/members/apple"
_FACTS = re.compile(r"<dt>(.*?)</dt><dd[^>]*>(.*?)</dd>", re.S)
_ALERT = re.compile(r'<p class="error" role="alert" id="member-error">(.*?)</p>', re.S)
_FLASH = re.compile(r'<p class="flash (\w+)" role="status">(.*?)</p>')


def text_of(response) -> str:
    return response.get_data(as_text=True)


def facts(page: str) -> dict[str, str]:
    return {
        name: " ".join(re.sub(r"<[^>]+>", " ", value).split())
        for name, value in _FACTS.findall(page)
    }


def changes(page: str) -> list[str]:
    found = re.findall(r'<p class="change">(.*?)</p>', page, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", change).split()) for change in found]


@pytest.fixture
def post(client):
    """Post a form of the member's page, as the page does (from=member)."""

    def send(path: str, **form: str):
        token = csrf_token_of(text_of(client.get("/log-in")))
        return client.post(path, data={**form, "from": "member", "csrf_token": token})

    return send


@pytest.fixture
def version(client):
    def of(member: str = "apple") -> str:
        return client.get(f"/stock/fruit/{member}").headers["ETag"].strip('"')

    return of


def test_the_page_shows_what_the_member_holds_and_its_latest_changes(client, seed):
    seed(fruit={"apple": 3000, "pear": 2})
    client.put("/stock/fruit/apple/reorder-level", json=4000)
    client.post("/stock/fruit/apple/adjustments", json={"delta": -3, "reason": "sold"})
    response = client.get(PAGE)
    assert response.status_code == 200
    page = text_of(response)
    assert "<h1>apple</h1>" in page
    assert '<p class="crumbs"><a href="/collections/fruit">fruit</a></p>' in page
    assert facts(page) == {
        "Quantity": "2,997 low",
        "Reorder level": "4,000",
        "Code": "none",
    }
    # Its own movements only, newest first, in words.
    assert changes(page) == [
        "3000 → 2997 (taken) — sold",
        "level none → 4000 (reorder level)",
        "new → 3000 (created)",
    ]
    assert '<a href="/collections/fruit/members/apple/history">Its history</a>' in page


def test_the_page_shows_the_ten_latest_and_links_the_rest(client, seed):
    seed(fruit={"apple": 0})
    for _ in range(12):
        client.post("/stock/fruit/apple/adjustments", json={"delta": 1})
    page = text_of(client.get(PAGE))
    assert changes(page)[:2] == ["11 → 12 (added)", "10 → 11 (added)"]
    assert len(changes(page)) == 10
    assert "All its history</a>" in page


def test_an_adjustment_from_the_page_comes_back_to_it(client, seed, stored, post):
    seed(fruit={"apple": 30})
    response = post(f"{PAGE}/adjustments", amount="4", reason="sold", direction="take")
    assert response.status_code == 303
    assert response.headers["Location"] == PAGE
    assert stored() == {"fruit": {"apple": 26}}
    page = text_of(client.get(PAGE))
    assert _FLASH.findall(page) == [("success", "Took 4 from apple: it now holds 26.")]
    assert facts(page)["Quantity"] == "26"
    assert changes(page)[0] == "30 → 26 (taken) — sold"


def test_a_refusal_shows_the_page_again_with_why_and_what_was_typed(
    refused, client, seed, stored, post
):
    seed(fruit={"apple": 30})
    response = post(f"{PAGE}/adjustments", amount="31", reason="sold", direction="take")
    response = refused(response)
    page = text_of(response)
    assert [html.unescape(alert) for alert in _ALERT.findall(page)] == [
        "Cannot take 31 from apple: it holds only 30. Nothing was changed."
    ]
    assert 'id="amount" name="amount" type="number" value="31"' in page
    assert 'id="reason" name="reason" type="text" value="sold"' in page
    assert stored() == {"fruit": {"apple": 30}}


def test_a_set_from_the_page_and_a_stale_one(
    refused, client, seed, stored, post, version
):
    seed(fruit={"apple": 30})
    shown = version()
    response = post(f"{PAGE}/quantity", qty="12", reason="counted", version=shown)
    assert response.status_code == 303
    assert response.headers["Location"] == PAGE
    assert stored() == {"fruit": {"apple": 12}}
    # The set is logged with its reason.
    assert changes(text_of(client.get(PAGE)))[0] == "30 → 12 (set) — counted"
    # The version the page showed is old now: refused, the page says why.
    response = post(f"{PAGE}/reorder-level", level="5", version=shown)
    response = refused(response)
    page = text_of(response)
    (alert,) = _ALERT.findall(page)
    assert html.unescape(alert).startswith(
        "apple was changed meanwhile: it now holds 12. Nothing was changed;"
    )
    assert "History of apple</a>" in alert
    assert client.get("/stock/fruit/apple/reorder-level").get_json() is None


def test_a_bad_amount_is_refused_beside_its_field(refused, client, seed, stored, post):
    seed(fruit={"apple": 30})
    response = post(f"{PAGE}/adjustments", amount="-2", direction="add")
    response = refused(response)
    assert (
        '<p class="error" id="amount-error">Amount must be a whole number from 1'
        in text_of(response)
    )
    assert stored() == {"fruit": {"apple": 30}}


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        (
            "/collections/fruit/members/kiwi",
            'There is no member "kiwi" in collection "fruit".',
        ),
        (
            "/collections/veg/members/apple",
            'There is no member "apple" in collection "veg".',
        ),
    ],
)
def test_a_missing_member_is_a_404_page(client, seed, path, detail):
    seed(fruit={"apple": 30})
    assert problem_page(client.get(path)) == {
        "status": 404,
        "error": "Not found",
        "detail": detail,
    }


def test_a_viewer_sees_the_member_but_no_form_and_a_stranger_logs_in(
    make_app, make_user, seed
):
    seed(fruit={"apple": 30})
    app = make_app(ANONYMOUS_ACCESS="none")
    stranger = app.test_client().get(PAGE)
    assert stranger.status_code == 303
    assert stranger.headers["Location"] == f"/log-in?next={PAGE}"
    make_user("viewer", "viewer")
    browser = app.test_client()
    assert login(browser, "viewer").status_code == 303
    page = text_of(browser.get(PAGE))
    assert facts(page) == {"Quantity": "30", "Reorder level": "none", "Code": "none"}
    main = page.split('<main id="content">')[1]
    assert "<form" not in main and "Delete apple" not in main
    token = csrf_token_of(page)
    form = {"amount": "1", "direction": "add", "from": "member", "csrf_token": token}
    refused = browser.post(f"{PAGE}/adjustments", data=form)
    assert problem_page(refused)["status"] == 403


def test_every_name_links_to_the_members_page(client, seed):
    seed(fruit={"apple": 3})
    client.put("/stock/fruit/apple/reorder-level", json=5)
    link = '<a href="/collections/fruit/members/apple">apple</a>'
    for path in (
        "/collections/fruit",
        "/?q=app",
        "/low-stock",
        "/collections/fruit/history",
    ):
        page = text_of(client.get(path, headers={"Accept": "text/html"}))
        assert link in page, path


# The code ------------------------------------------------------------------------

EAN = "4006381333931"


def test_a_code_is_set_made_and_cleared_from_the_page(
    client, seed, post, version, rows
):
    seed(fruit={"apple": 3, "pear": 1})
    assert facts(text_of(client.get(PAGE)))["Code"] == "none"
    response = post(f"{PAGE}/code", code=f" {EAN} ", version=version())
    assert response.status_code == 303
    assert response.headers["Location"] == PAGE
    page = text_of(client.get(PAGE))
    assert facts(page)["Code"] == EAN
    assert _FLASH.findall(page) == [("success", f"Code of apple set to {EAN}.")]
    assert "Make a code" not in page
    assert post(f"{PAGE}/code", code="", version=version()).status_code == 303
    assert facts(text_of(client.get(PAGE)))["Code"] == "none"
    made = post(f"{PAGE}/code", make="1", version=version())
    assert made.status_code == 303
    (code,) = [
        row["code"] for row in rows("SELECT code FROM members WHERE name='apple'")
    ]
    assert code.startswith("20") and len(code) == 13
    assert _FLASH.findall(text_of(client.get(PAGE))) == [
        ("success", f"apple now carries the code {code}.")
    ]
    assert changes(text_of(client.get(PAGE)))[:3] == [
        f"code none → {code} (code)",
        f"code {EAN} → none (code)",
        f"code none → {EAN} (code)",
    ]


def test_a_code_another_member_carries_is_refused_on_the_page(
    client, seed, post, version, rows, refused
):
    seed(fruit={"apple": 3, "pear": 1})
    client.put("/stock/fruit/pear/code", json=EAN)
    response = refused(post(f"{PAGE}/code", code=EAN, version=version()))
    page = text_of(response)
    assert [html.unescape(alert) for alert in _ALERT.findall(page)] == [
        f'The code "{EAN}" is carried by pear in fruit: a code names one member of'
        " a collection. Nothing was changed."
    ]
    assert f'id="code" name="code" type="text" value="{EAN}"' in page
    bad = refused(post(f"{PAGE}/code", code="4006381333932", version=version()))
    assert (
        '<p class="error" id="code-error">Code is not a valid EAN-13: its check'
        " digit is 2, it should be 1</p>" in text_of(bad)
    )
    assert rows("SELECT name, code FROM members ORDER BY id") == [
        {"name": "apple", "code": None},
        {"name": "pear", "code": EAN},
    ]
