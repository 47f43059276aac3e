"""GET /stock's version: a strong ETag, 304 without reading the members, and
the document served from this process's cache until the stock changes."""

from __future__ import annotations

import json

import pytest
from helpers import bearer

from stockapp.stock.stock_cache import DocumentCache, stock_cache


def whole(client, **headers):
    response = client.get("/stock", headers=headers)
    return response.status_code, response.headers.get("ETag"), response.get_data()


def queries(statements):
    return [statement for statement in statements if statement != "BEGIN"]


def test_the_stock_is_read_once_then_served_from_the_cache(
    client, seed, count_statements
):
    seed(fruit={"apple": 30, "pear": 2}, veg={})
    with count_statements() as cold:
        status, tag, body = whole(client)
    assert status == 200
    assert json.loads(body) == {"fruit": {"apple": 30, "pear": 2}, "veg": {}}
    # The version, then the document (with its own version: one snapshot).
    assert len(queries(cold)) == 2
    with count_statements() as warm:
        assert whole(client) == (200, tag, body)
    # Only the version: no member is read.
    assert len(queries(warm)) == 1
    assert "members" not in queries(warm)[0]


def test_if_none_match_with_the_version_is_304_without_reading_the_members(
    client, seed, count_statements
):
    seed(fruit={"apple": 30})
    _, tag, _ = whole(client)
    with count_statements() as statements:
        assert whole(client, **{"If-None-Match": tag}) == (304, tag, b"")
    assert len(queries(statements)) == 1
    assert "members" not in queries(statements)[0]
    # Weak comparison, as for the other reads; another tag is a 200.
    assert whole(client, **{"If-None-Match": f"W/{tag}"})[0] == 304
    assert whole(client, **{"If-None-Match": '"other"'})[:2] == (200, tag)


WRITES = [
    ("POST", "/stock/nuts", {"almond": 1}),
    ("POST", "/stock/empty", {}),
    ("PUT", "/stock/fruit/apple", 29),
    ("PUT", "/stock/fruit/kiwi", 3),
    ("POST", "/stock/fruit/apple/adjustments", {"delta": -1}),
    ("PATCH", "/stock/fruit", {"pear": None}),
    (
        "POST",
        "/transfers",
        {
            "from": {"collection": "fruit", "member": "kiwi"},
            "to": {"collection": "veg", "member": "kiwi"},
            "quantity": 1,
        },
    ),
    ("PUT", "/stock/fruit", {"apple": 5}),
    ("DELETE", "/stock/fruit/apple", None),
    ("DELETE", "/stock/empty", None),
    ("DELETE", "/stock/nuts", None),
    (
        "POST",
        "/batch",
        {"operations": [{"op": "put", "collection": "fruit", "body": {"fig": 3}}]},
    ),
    ("POST", "/stocktakes/1/commit", {}),
]


def test_every_write_gives_the_stock_a_new_version_and_document(client, seed, stored):
    seed(fruit={"apple": 30, "pear": 2, "kiwi": 4}, veg={})
    # A count of veg's kiwi (none yet: the transfer brings one) to commit last.
    assert client.post("/stocktakes", json={"collection": "veg"}).status_code == 201
    _, tag, _ = whole(client)
    seen = {tag}
    for method, path, body in WRITES:
        if path == "/stocktakes/1/commit":
            counted = client.put("/stocktakes/1/counts/kiwi", json={"quantity": 7})
            assert counted.status_code == 201, counted.get_json()
        response = client.open(path, method=method, json=body)
        assert response.status_code < 300, (path, response.get_json())
        # The old version is stale: the client gets the new document.
        status, new_tag, document = whole(client, **{"If-None-Match": tag})
        assert status == 200, path
        assert json.loads(document) == stored(), path
        assert new_tag not in seen, path
        seen.add(new_tag)
        tag = new_tag
        # And the new one is current, from the cache or not.
        assert whole(client, **{"If-None-Match": tag})[0] == 304
        assert whole(client) == (200, tag, document)


def test_a_write_that_changes_nothing_keeps_the_version(client, seed):
    seed(fruit={"apple": 30})
    _, tag, body = whole(client)
    assert client.put("/stock/fruit", json={"apple": 30}).status_code == 200
    assert whole(client) == (200, tag, body)


def test_a_limited_token_has_its_own_version_and_document(
    client, seed, make_user, make_token
):
    seed(fruit={"apple": 30}, veg={"leek": 2})
    make_user("ann", "clerk")
    veg_only = bearer(make_token("ann", "read", collections=["veg"]))
    everything = whole(client)
    limited = whole(client, **veg_only)
    assert json.loads(limited[2]) == {"veg": {"leek": 2}}
    assert limited[1] != everything[1]
    # Served again from its own cache entry, not everyone's.
    assert whole(client, **veg_only) == limited
    assert whole(client) == everything
    # A change it cannot see leaves its version alone; one it can see does not.
    client.put("/stock/fruit/apple", json=1)
    assert whole(client, **veg_only, **{"If-None-Match": limited[1]})[0] == 304
    client.put("/stock/veg/leek", json=1)
    status, _, document = whole(client, **veg_only, **{"If-None-Match": limited[1]})
    assert (status, json.loads(document)) == (200, {"veg": {"leek": 1}})


def test_the_empty_stock_has_a_version_too(client):
    status, tag, body = whole(client)
    assert (status, json.loads(body)) == (200, {})
    assert whole(client, **{"If-None-Match": tag})[0] == 304
    client.post("/stock/fruit", json={})
    assert whole(client, **{"If-None-Match": tag})[:2] != (304, tag)


def test_without_a_cache_the_stock_is_still_tagged(make_app):
    app = make_app(STOCK_CACHE_BYTES=0, ANONYMOUS_ACCESS="write")
    client = app.test_client()
    client.post("/stock/fruit", json={"apple": 30})
    status, tag, body = whole(client)
    assert (status, json.loads(body)) == (200, {"fruit": {"apple": 30}})
    assert whole(client, **{"If-None-Match": tag})[0] == 304
    assert whole(client) == (200, tag, body)


def test_a_document_too_large_to_keep_streams_every_time(make_app):
    app = make_app(STOCK_CACHE_BYTES=400, ANONYMOUS_ACCESS="write")
    client = app.test_client()
    client.post("/stock/big", json={f"member{i}": i for i in range(50)})
    first = whole(client)
    assert len(first[2]) > 100
    assert whole(client) == first
    with app.app_context():
        assert stock_cache()._size == 0


def test_the_cache_keeps_the_most_recently_used_within_its_bytes():
    cache = DocumentCache(capacity=40)
    assert cache.largest == 10
    cache.put(("a", None), b"x" * 10)
    cache.put(("b", None), b"x" * 10)
    cache.put(("c", None), b"x" * 10)
    cache.put(("d", None), b"x" * 10)
    assert cache.get(("a", None)) == b"x" * 10
    cache.put(("e", None), b"x" * 10)
    # b was the least recently used.
    assert cache.get(("b", None)) is None
    assert [cache.get((key, None)) is not None for key in "acde"] == [True] * 4
    cache.put(("f", None), b"x" * 11)
    assert cache.get(("f", None)) is None


def test_a_document_is_kept_only_once_it_was_sent_whole():
    cache = DocumentCache(capacity=1000)
    pieces = cache.remembering(("v", None), ["{", '"a":{}', "}"])
    assert next(pieces) == b"{"
    # The client went away: nothing half-sent is kept.
    pieces.close()
    assert cache.get(("v", None)) is None
    assert b"".join(cache.remembering(("v", None), ["{", "}"])) == b"{}"
    assert cache.get(("v", None)) == b"{}"


@pytest.mark.parametrize("limited", [False, True])
def test_a_collection_read_with_its_version_is_304_without_its_members(
    client, seed, count_statements, make_user, make_token, limited
):
    seed(fruit={"apple": 30, "pear": 2})
    headers = {}
    if limited:
        make_user("ann", "clerk")
        headers = bearer(make_token("ann", "read", collections=["fruit"]))
    tag = client.get("/stock/fruit", headers=headers).headers["ETag"]
    with count_statements() as statements:
        response = client.get("/stock/fruit", headers={**headers, "If-None-Match": tag})
    assert (response.status_code, response.headers["ETag"]) == (304, tag)
    assert [q for q in queries(statements) if "members" in q] == []


def test_a_page_of_the_stock_carries_the_stock_version(client, seed):
    seed(fruit={"apple": 30}, veg={"leek": 2})
    _, tag, _ = whole(client)
    first = client.get("/stock?limit=1")
    assert (first.status_code, first.get_json()) == (200, {"fruit": {"apple": 30}})
    assert first.headers["ETag"] == tag
    again = client.get("/stock?limit=1", headers={"If-None-Match": tag})
    assert (again.status_code, again.headers["Link"]) == (304, first.headers["Link"])
    client.put("/stock/veg/leek", json=3)
    changed = client.get("/stock?limit=1", headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] == whole(client)[1] != tag
    # A page past the end (the next collection went meanwhile) is tagged too.
    client.delete("/stock/veg")
    beyond = client.get(first.headers["Link"].split(">")[0].lstrip("<"))
    assert (beyond.status_code, beyond.get_json()) == (200, {})
    assert beyond.headers["ETag"] == whole(client)[1]
