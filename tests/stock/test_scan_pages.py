"""Scan to find, /scan: a code scanned or typed (a hardware scanner types it
and presses Enter), or the link to a member's page a label's QR code holds,
opens the page of the member carrying it, its Amount field focused."""

from __future__ import annotations

import re

import pytest
from helpers import login

EAN = "4006381333931"


def text_of(response) -> str:
    return response.get_data(as_text=True)


def alert(page: str) -> list[str]:
    return re.findall(r'<p class="error" role="alert" id="scan-result">(.*?)</p>', page)


def test_the_scan_page_asks_for_a_code(client):
    response = client.get("/scan")
    assert response.status_code == 200
    page = text_of(response)
    assert '<input id="code" name="code" type="text" value=""' in page
    assert "autofocus" in page
    assert alert(page) == []


def test_a_typed_code_opens_its_members_page(client, seed):
    seed(fruit={"apple": 3, "pear": 1})
    client.put("/stock/fruit/pear/code", json=EAN)
    response = client.get(f"/scan?code=+{EAN}+")
    assert response.status_code == 303
    assert response.headers["Location"] == "/collections/fruit/members/pear?scanned=1"


def test_a_code_in_two_collections_lists_both(client, seed):
    seed(fruit={"apple": 3}, veg={"leek": 1})
    client.put("/stock/fruit/apple/code", json=EAN)
    client.put("/stock/veg/leek/code", json=EAN)
    response = client.get(f"/scan?code={EAN}")
    assert response.status_code == 200
    links = re.findall(r'<td><a href="([^"]+)">', text_of(response))
    assert links == [
        "/collections/fruit",
        "/collections/fruit/members/apple?scanned=1",
        "/collections/veg",
        "/collections/veg/members/leek?scanned=1",
    ]


def test_a_code_nobody_carries_is_said_with_the_field_to_try_again(client, seed):
    seed(fruit={"apple": 3})
    response = client.get(f"/scan?code={EAN}")
    assert response.status_code == 404
    page = text_of(response)
    assert alert(page) == [f"No member carries the code {EAN}."]
    assert f'<input id="code" name="code" type="text" value="{EAN}"' in page


def test_a_bad_code_is_refused_beside_the_field(client):
    response = client.get("/scan?code=4006381333932")
    assert response.status_code == 400
    assert (
        '<p class="error" id="code-error">Code is not a valid EAN-13: its check digit'
        " is 2, it should be 1</p>" in text_of(response)
    )


def test_a_stranger_is_sent_to_log_in_and_a_clerk_finds_the_member(
    make_app, seed, make_user, client
):
    seed(fruit={"apple": 3})
    client.put("/stock/fruit/apple/code", json=EAN)
    app = make_app(ANONYMOUS_ACCESS="none")
    browser = app.test_client()
    stranger = browser.get(f"/scan?code={EAN}")
    assert stranger.status_code == 303
    assert stranger.headers["Location"].startswith("/log-in?next=/scan")
    make_user("ann", "clerk")
    login(browser, "ann")
    found = browser.get(f"/scan?code={EAN}")
    assert found.status_code == 303
    assert found.headers["Location"] == "/collections/fruit/members/apple?scanned=1"


def test_the_overview_search_finds_a_member_by_its_code(client, seed):
    seed(fruit={"apple": 3, "pear": 1})
    client.put("/stock/fruit/pear/code", json=EAN)
    page = text_of(client.get(f"/?q={EAN}"))
    assert re.findall(r'<td><a href="(/collections/[^"]+/members/[^"]+)">', page) == [
        "/collections/fruit/members/pear"
    ]


def amount_field(page: str) -> str:
    (field,) = re.findall(r'<input id="amount" [^>]*>', page)
    return field


def test_a_member_page_opened_by_a_scan_is_ready_to_adjust(client, seed):
    seed(fruit={"apple": 3})
    scanned = text_of(client.get("/collections/fruit/members/apple?scanned=1"))
    assert " autofocus" in amount_field(scanned)
    plain = text_of(client.get("/collections/fruit/members/apple"))
    assert " autofocus" not in amount_field(plain)


@pytest.mark.parametrize(
    ("link", "member"),
    [
        ("http://localhost/collections/fruit/members/pear", "pear"),
        ("https://localhost/collections/fruit/members/pear?from=label#top", "pear"),
        ("http://localhost/collections/fruit/members/green%20apple", "green%20apple"),
    ],
)
def test_a_qr_codes_link_to_a_member_of_this_site_opens_it(client, seed, link, member):
    seed(fruit={"pear": 1, "green apple": 2})
    response = client.get("/scan", query_string={"code": link})
    assert response.status_code == 303
    assert response.headers["Location"] == (
        f"/collections/fruit/members/{member}?scanned=1"
    )


@pytest.mark.parametrize(
    "link",
    [
        "http://elsewhere.example/collections/fruit/members/pear",
        "http://localhost:8000/collections/fruit/members/pear",
        "http://localhost/collections/fruit",
        "http://localhost/collections/fruit/members/pear/history",
        "http://localhost/nowhere",
        "http://localhost",
        "ftp://localhost/collections/fruit/members/pear",
        "javascript://localhost/collections/fruit/members/pear",
    ],
)
def test_a_link_to_anything_but_a_member_here_is_refused_beside_the_field(
    client, seed, link
):
    seed(fruit={"pear": 1})
    response = client.get("/scan", query_string={"code": link})
    assert response.status_code == 400
    page = text_of(response)
    assert (
        '<p class="error" id="code-error">Code is a link, but not to a member&#39;s'
        " page on this site</p>" in page
    )
    assert alert(page) == []


def test_a_link_to_a_member_that_is_not_there_opens_its_missing_page(client, seed):
    seed(fruit={"pear": 1})
    link = "http://localhost/collections/fruit/members/plum"
    response = client.get("/scan", query_string={"code": link}, follow_redirects=True)
    assert response.status_code == 404


def test_the_camera_is_offered_to_script_only(client):
    page = text_of(client.get("/scan"))
    assert (
        '<div class="camera" id="camera"'
        ' data-decoder="/static/vendor/zxing-library-0.23.0.min.js" hidden>'
    ) in page
    assert '<script src="/static/scan.js" defer></script>' in page
    # The decoder is loaded by scan.js when needed, never by a page.
    assert 'src="/static/vendor/zxing' not in page
