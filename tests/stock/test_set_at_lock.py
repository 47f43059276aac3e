"""A write that sets one member's quantity, done at the collection's lock on
PostgreSQL (ledger.lock_collection_setting_one): the same stored state, log
and answers as the usual lock, read and write, on both backends."""

from __future__ import annotations

import pytest
from helpers import bearer
from sqlalchemy import false, select

from stockapp.core.database import (
    WRITE_ATTEMPTS,
    WriteRaced,
    retry_serialization_failures,
)
from stockapp.stock import ledger, units
from stockapp.stock.statements import collections

MOVEMENTS = (
    'SELECT collection, member, kind, before, after, reason, "by"'
    " FROM movements ORDER BY id"
)


def tag(client, path):
    response = client.get(path)
    assert response.status_code == 200
    return response.headers["ETag"]


def number(etag):
    return int(etag.strip('"'))


def created(collection, member, quantity):
    return {
        "collection": collection,
        "member": member,
        "kind": "create",
        "before": None,
        "after": quantity,
        "reason": None,
        "by": None,
    }


def test_a_put_sets_the_member_logs_it_and_moves_both_versions_on(
    client, seed, rows, stored
):
    seed(fruit={"apple": 30, "pear": 1})
    collection, apple, pear = (
        tag(client, f"/stock/fruit{member}") for member in ("", "/apple", "/pear")
    )
    response = client.put("/stock/fruit/apple", json=31)
    assert (response.status_code, response.get_json()) == (
        200,
        {"message": "Member replaced"},
    )
    assert response.headers["ETag"] == tag(client, "/stock/fruit/apple")
    assert (
        int(tag(client, "/stock/fruit/apple").strip('"')) == int(apple.strip('"')) + 1
    )
    assert int(tag(client, "/stock/fruit").strip('"')) == int(collection.strip('"')) + 1
    assert tag(client, "/stock/fruit/pear") == pear
    assert stored() == {"fruit": {"apple": 31, "pear": 1}}
    assert rows(MOVEMENTS)[-1] == {
        **created("fruit", "apple", 31),
        "kind": "replace",
        "before": 30,
    }


def test_a_patch_of_one_member_sets_it_and_answers_the_collections_new_etag(
    client, seed, rows, stored
):
    seed(fruit={"apple": 30})
    before = tag(client, "/stock/fruit")
    response = client.patch("/stock/fruit", json={"apple": 0})
    assert (response.status_code, response.get_json()) == (
        200,
        {"message": "Collection updated"},
    )
    assert response.headers["ETag"] == tag(client, "/stock/fruit") != before
    assert stored() == {"fruit": {"apple": 0}}
    assert rows(MOVEMENTS)[-1] == {
        **created("fruit", "apple", 0),
        "kind": "update",
        "before": 30,
    }


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("PUT", "/stock/fruit/apple", 30), ("PATCH", "/stock/fruit", {"apple": 30})],
)
def test_the_same_quantity_again_writes_and_logs_nothing(
    client, seed, rows, method, path, body
):
    seed(fruit={"apple": 30})
    tags = tag(client, "/stock/fruit"), tag(client, "/stock/fruit/apple")
    response = client.open(path, method=method, json=body)
    assert response.status_code == 200
    assert (tag(client, "/stock/fruit"), tag(client, "/stock/fruit/apple")) == tags
    assert rows(MOVEMENTS) == [created("fruit", "apple", 30)]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message", "kind"),
    [
        ("PUT", "/stock/fruit/kiwi", 4, 201, "Member created", "replace"),
        ("PATCH", "/stock/fruit", {"kiwi": 4}, 200, "Collection updated", "update"),
        ("PATCH", "/stock/veg", {"kiwi": 4}, 201, "Collection created", "update"),
    ],
)
def test_a_new_member_or_collection_is_written_as_before(
    client, seed, rows, stored, method, path, body, status, message, kind
):
    seed(fruit={"apple": 30})
    response = client.open(path, method=method, json=body)
    assert (response.status_code, response.get_json()) == (status, {"message": message})
    collection = path.split("/")[2]
    expected = {"apple": 30, "kiwi": 4} if collection == "fruit" else {"kiwi": 4}
    assert stored()[collection] == expected
    assert rows(MOVEMENTS)[-1] == {**created(collection, "kiwi", 4), "kind": kind}


def test_a_put_into_a_missing_collection_is_404_and_stores_nothing(
    client, rows, stored
):
    response = client.put("/stock/veg/kiwi", json=4)
    assert (response.status_code, response.get_json()["error"]) == (
        404,
        "Collection not found",
    )
    assert stored() == {}
    assert rows(MOVEMENTS) == []


@pytest.mark.parametrize(
    ("method", "path", "body", "resource"),
    [
        ("PUT", "/stock/fruit/apple", 31, "/stock/fruit/apple"),
        ("PATCH", "/stock/fruit", {"apple": 31}, "/stock/fruit"),
    ],
)
def test_a_failed_precondition_takes_back_the_write_its_log_and_its_event(
    make_app, make_user, make_token, rows, stored, method, path, body, resource
):
    # A write with a precondition is never done at the lock (it is checked
    # first), so nothing is written: no movement, no outbox row.
    make_user("root", "admin")
    admin = make_app(WEBHOOKS_ALLOW_PRIVATE=True).test_client()
    headers = bearer(make_token("root", "admin"))
    subscribed = admin.post(
        "/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["movement.created"]},
        headers=headers,
    )
    assert subscribed.status_code == 201, subscribed.get_json()
    client = make_app(ANONYMOUS_ACCESS="write").test_client()
    assert client.post("/stock/fruit", json={"apple": 30}).status_code == 201
    current = tag(client, resource)
    deliveries = rows("SELECT count(*) AS n FROM webhook_deliveries")
    response = client.open(path, method=method, json=body, headers={"If-Match": '"1"'})
    assert response.status_code == 412
    assert response.get_json()["detail"] == (
        f"If-Match does not hold: the resource has ETag {current}; nothing was changed."
    )
    assert stored() == {"fruit": {"apple": 30}}
    assert tag(client, resource) == current
    assert rows(MOVEMENTS) == [created("fruit", "apple", 30)]
    assert rows("SELECT count(*) AS n FROM webhook_deliveries") == deliveries


def test_a_reason_and_the_writer_are_logged(app, seed, rows):
    seed(fruit={"apple": 30})
    with app.test_request_context():
        written = units.put_member("fruit", "apple", 7, by="alice", reason="recount")
    assert written.created is False
    assert rows(MOVEMENTS)[-1] == {
        **created("fruit", "apple", 7),
        "kind": "replace",
        "before": 30,
        "reason": "recount",
        "by": "alice",
    }


@pytest.mark.postgresql_only
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("PUT", "/stock/fruit/apple", 31), ("PATCH", "/stock/fruit", {"apple": 31})],
)
def test_a_collection_that_appears_between_the_lock_and_the_write_runs_it_again(
    client, seed, rows, stored, monkeypatch, method, path, body
):
    # As if the collection were created between the lock (which found none)
    # and the write (which found it): the write ran without the lock, so it is
    # rolled back and run again; here every run meets the same, so after
    # WRITE_ATTEMPTS runs the client is told to come back, nothing stored.
    seed(fruit={"apple": 30})
    finds_none = select(collections.c.id, collections.c.version).where(false())
    monkeypatch.setattr(ledger, "LOCK_COLLECTION", finds_none)
    response = client.open(path, method=method, json=body)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.get_json()["error"] == "Database busy"
    assert stored() == {"fruit": {"apple": 30}}
    assert rows(MOVEMENTS) == [created("fruit", "apple", 30)]


def test_a_raced_unit_of_work_runs_again(app):
    runs = []

    @retry_serialization_failures
    def unit_of_work():
        runs.append(len(runs))
        if len(runs) < WRITE_ATTEMPTS:
            raise WriteRaced
        return "done"

    with app.app_context():
        assert unit_of_work() == "done"
    assert runs == list(range(WRITE_ATTEMPTS))
