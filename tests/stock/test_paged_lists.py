"""Paged lists: GET /stock and GET /stock/<c> with ``limit`` and ``cursor``.

Keyset pages in creation order with a ``Link: rel="next"``, as the history has;
without ``limit`` and ``cursor`` the answer is the whole document (the tutorial's
contract). The whole stock is streamed, and its connection goes back to the pool.
"""

import base64
import json
import re

import pytest
from helpers import bearer, invalid_detail

from stockapp.core.cursors import BAD_CURSOR

LIMIT_RULE = "must be a whole number from 1 to 1000"


def next_link(response):
    """The path of the next page, or None on the last one."""
    link = response.headers.get("Link")
    if link is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert match, link
    return match.group(1)


def walk(client, path, **headers):
    """Every page from ``path`` on: [(status, body)], following the links."""
    pages = []
    while path is not None:
        response = client.get(path, headers=headers)
        pages.append((response.status_code, response.get_json()))
        path = next_link(response)
    return pages


def invalid(**errors):
    detail = invalid_detail(errors)
    return {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": detail,
        "error": "Invalid input",
        "errors": errors,
    }


def test_collections_come_a_page_at_a_time_in_creation_order(client, seed):
    seed(veg={"leek": 2}, fruit={"pear": 0, "apple": 30}, nuts={}, herbs={"dill": 1})
    assert walk(client, "/stock?limit=2") == [
        (200, {"veg": {"leek": 2}, "fruit": {"pear": 0, "apple": 30}}),
        (200, {"nuts": {}, "herbs": {"dill": 1}}),
    ]


def test_a_page_link_keeps_the_limit_and_names_the_page_after(client, seed):
    seed(a={}, b={}, c={})
    first = client.get("/stock?limit=1")
    path = next_link(first)
    assert path.startswith("/stock?limit=1&cursor=")
    second = client.get(path)
    assert second.get_json() == {"b": {}}
    third = client.get(next_link(second))
    assert third.get_json() == {"c": {}}
    assert "Link" not in third.headers


def test_the_last_full_page_has_no_link(client, seed):
    seed(a={}, b={})
    response = client.get("/stock?limit=2")
    assert response.get_json() == {"a": {}, "b": {}}
    assert "Link" not in response.headers


def test_without_limit_or_cursor_the_stock_is_one_document(client, seed):
    seed(**{f"c{i}": {"m": i} for i in range(150)})
    response = client.get("/stock")
    assert response.status_code == 200
    assert response.get_json() == {f"c{i}": {"m": i} for i in range(150)}
    assert "Link" not in response.headers


def test_a_stock_sent_in_many_pieces_is_one_document(client, seed):
    # Well over the 64 KiB the stream gathers before it sends a piece.
    stock = {f"c{c}": {f"member-{m:05}": m for m in range(2000)} for c in range(8)}
    seed(**stock)
    response = client.get("/stock", buffered=False)
    pieces = list(response.response)
    assert len(pieces) > 2
    assert json.loads(b"".join(pieces)) == stock


def test_a_cursor_without_limit_pages_by_the_default(client, seed):
    seed(**{f"c{i}": {} for i in range(102)})
    cursor = next_link(client.get("/stock?limit=1")).split("cursor=")[1]
    response = client.get(f"/stock?cursor={cursor}")
    assert list(response.get_json()) == [f"c{i}" for i in range(1, 101)]
    assert next_link(response).startswith("/stock?limit=100&cursor=")


def test_removing_a_collection_already_seen_shifts_no_page(client, seed):
    seed(a={}, b={}, c={}, d={})
    first = client.get("/stock?limit=2")
    client.delete("/stock/a")
    client.delete("/stock/b")
    client.post("/stock/e", json={})
    assert walk(client, next_link(first)) == [
        (200, {"c": {}, "d": {}}),
        (200, {"e": {}}),
    ]


def test_members_come_a_page_at_a_time_with_the_collection_tag(client, seed):
    seed(fruit={"pear": 0, "apple": 30, "fig": 2, "kiwi": 9, "lime": 1})
    whole = client.get("/stock/fruit")
    pages = []
    path = "/stock/fruit?limit=2"
    while path is not None:
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["ETag"] == whole.headers["ETag"]
        pages.append(response.get_json())
        path = next_link(response)
    assert pages == [{"pear": 0, "apple": 30}, {"fig": 2, "kiwi": 9}, {"lime": 1}]


def test_a_member_page_beyond_the_last_is_empty(client, seed):
    seed(fruit={"pear": 0, "apple": 1})
    path = next_link(client.get("/stock/fruit?limit=1"))
    client.delete("/stock/fruit/apple")
    response = client.get(path)
    assert response.status_code == 200
    assert response.get_json() == {}
    assert "Link" not in response.headers


def test_an_empty_collection_pages_as_one_empty_page(client, seed):
    seed(fruit={})
    assert walk(client, "/stock/fruit?limit=5") == [(200, {})]


def test_member_pages_answer_304_to_the_current_tag(client, seed):
    seed(fruit={"pear": 0, "apple": 30})
    tag = client.get("/stock/fruit").headers["ETag"]
    response = client.get("/stock/fruit?limit=1", headers={"If-None-Match": tag})
    assert response.status_code == 304
    assert response.data == b""


def test_a_page_of_a_missing_collection_is_404(client):
    response = client.get("/stock/nothing?limit=2")
    assert response.status_code == 404
    assert response.get_json()["detail"] == 'There is no collection "nothing".'


@pytest.mark.parametrize("path", ["/stock", "/stock/fruit"])
@pytest.mark.parametrize("limit", ["0", "1001", "01", "+5", "5.0", "x", "", "١"])
def test_a_limit_outside_1_to_1000_is_refused(client, seed, path, limit):
    seed(fruit={"pear": 0})
    response = client.get(f"{path}?limit={limit}")
    assert response.status_code == 400
    assert response.get_json() == invalid(limit=LIMIT_RULE)


@pytest.mark.parametrize("path", ["/stock", "/stock/fruit"])
@pytest.mark.parametrize("cursor", ["", "x", "YWZ0ZXI6MQ", "%00", "=" * 8])
def test_a_cursor_the_api_never_gave_out_is_refused(client, seed, path, cursor):
    seed(fruit={"pear": 0})
    response = client.get(f"{path}?limit=1&cursor={cursor}")
    assert response.status_code == 400
    assert response.get_json() == invalid(cursor=BAD_CURSOR)


def test_one_lists_cursor_is_refused_by_another(client, seed):
    seed(fruit={"pear": 0, "apple": 1}, veg={})
    client.put("/stock/fruit/pear", json=3)
    collections_cursor = next_link(client.get("/stock?limit=1")).split("cursor=")[1]
    members_cursor = next_link(client.get("/stock/fruit?limit=1")).split("cursor=")[1]
    history_cursor = next_link(client.get("/stock/fruit/history?limit=1")).split(
        "cursor="
    )[1]
    for path, cursor in [
        ("/stock/fruit", collections_cursor),
        ("/stock", members_cursor),
        ("/stock", history_cursor),
        ("/stock/fruit/history", collections_cursor),
    ]:
        response = client.get(f"{path}?limit=1&cursor={cursor}")
        assert response.status_code == 400, (path, cursor)
        assert response.get_json() == invalid(cursor=BAD_CURSOR)


def test_a_limited_token_pages_over_its_own_collections_only(
    client, seed, make_user, make_token
):
    seed(a={"x": 1}, b={}, c={"y": 2}, d={}, e={})
    make_user("alice", "clerk")
    token = make_token("alice", "read", collections=["e", "c", "a"])
    assert walk(client, "/stock?limit=2", **bearer(token)) == [
        (200, {"a": {"x": 1}, "c": {"y": 2}}),
        (200, {"e": {}}),
    ]
    whole = client.get("/stock", headers=bearer(token))
    assert whole.get_json() == {"a": {"x": 1}, "c": {"y": 2}, "e": {}}


def test_names_are_written_as_json_whatever_they_hold(client, seed):
    names = ['quote"d', "back\\slash", "ünïcødé", "💡", "<b>&amp;", "a b"]
    seed(**{name: {name: 1} for name in names})
    response = client.get("/stock")
    assert response.get_json() == {name: {name: 1} for name in names}
    pages = walk(client, "/stock?limit=4")
    assert [body for _, body in pages] == [
        {name: {name: 1} for name in names[:4]},
        {name: {name: 1} for name in names[4:]},
    ]


def test_a_streamed_stock_gives_its_connection_back_when_closed(client, seed):
    # Big enough that the first piece sent (64 KiB) leaves rows unread.
    many = {f"member-{i:05}": i for i in range(5000)}
    seed(fruit={"pear": 0}, big=many, bigger=many)
    # More unread responses than the pool holds (5 + 10 overflow), all kept
    # alive: each must give its connection back when the server closes it (a
    # leak makes the 16th wait out the pool timeout and answer 503).
    unread = []
    for _ in range(20):
        response = client.get("/stock", buffered=False)
        assert response.status_code == 200
        unread.append(response)
        response.close()
    response = client.get("/stock/fruit/pear")
    assert response.status_code == 200
    assert response.get_json() == 0


def forged(prefix: str, key: int) -> str:
    """A cursor as the API spells one, naming ``key`` after ``prefix``."""
    return base64.urlsafe_b64encode(f"{prefix}{key}".encode()).decode().rstrip("=")


PAGED = [
    ("/stock?limit=1", "after-collection:"),
    ("/stock/fruit?limit=1", "after-member:"),
    ("/stock/fruit/history?limit=1", "before:"),
    ("/stock/fruit/pear/history?limit=1", "before:"),
    ("/low-stock?limit=1", "after-low:"),
]


@pytest.mark.parametrize("path, prefix", PAGED)
@pytest.mark.parametrize("key", [2**63, 9_999_999_999_999_999_999])
def test_a_cursor_naming_an_id_beyond_64_bits_is_refused(
    client, seed, path, prefix, key
):
    seed(fruit={"pear": 0})
    response = client.get(f"{path}&cursor={forged(prefix, key)}")
    assert response.status_code == 400
    assert response.get_json() == invalid(cursor=BAD_CURSOR)


@pytest.mark.parametrize("path, prefix", PAGED)
@pytest.mark.parametrize("key", [2**31, 2**63 - 1])
def test_a_cursor_naming_a_large_id_is_a_page(client, seed, path, prefix, key):
    seed(fruit={"pear": 0})
    response = client.get(f"{path}&cursor={forged(prefix, key)}")
    assert response.status_code == 200
    body = response.get_json()
    # Newest first from a huge id: the whole (short) history; beyond it: nothing.
    if prefix == "before:":
        assert [m["member"] for m in body["movements"]] == ["pear"]
    else:
        assert body in ({}, {"low_stock": []})
