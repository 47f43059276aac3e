"""Concurrent writes answer as the contract says, and lose nothing, on either backend.

A rival transaction on a connection of its own writes first and holds its locks
while a request waits for them; the test then commits or rolls the rival back.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Connection, delete, insert, select

from stockapp.stock.models import Collection, Member

CREATED = (201, {"message": "Collection created"})
ALREADY_EXISTS = (
    400,
    {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": 'A collection named "fruit" already exists; nothing was changed.',
        "error": "Collection already exists",
    },
)


def send_while_rival_waits(client, rival, wait_for_lock_waiters, url, end, *request):
    """Send ``request`` once the rival holds its locks, then ``end`` the rival."""
    method, path, body = request
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(client.open, path, method=method, json=body)
        wait_for_lock_waiters(url, 1)
        assert not pending.done()
        end(rival)
        response = pending.result(timeout=30)
    return response.status_code, response.get_json()


@pytest.mark.parametrize(
    ("method", "answer", "stock"),
    [
        ("POST", ALREADY_EXISTS, {"fruit": {}}),
        ("PUT", (200, {"message": "Collection replaced"}), {"fruit": {"apple": 1}}),
        ("PATCH", (200, {"message": "Collection updated"}), {"fruit": {"apple": 1}}),
    ],
)
def test_create_waiting_for_a_committed_create_of_the_same_name(
    client, rival, stored, wait_for_lock_waiters, database_url, method, answer, stock
):
    rival.execute(insert(Collection).values(name="fruit"))
    assert (
        send_while_rival_waits(
            client,
            rival,
            wait_for_lock_waiters,
            database_url,
            Connection.commit,
            method,
            "/stock/fruit",
            {"apple": 1},
        )
        == answer
    )
    assert stored() == stock


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_create_waiting_for_a_rolled_back_create_of_the_same_name_creates(
    client, rival, stored, wait_for_lock_waiters, database_url, method
):
    rival.execute(insert(Collection).values(name="fruit"))
    assert (
        send_while_rival_waits(
            client,
            rival,
            wait_for_lock_waiters,
            database_url,
            Connection.rollback,
            method,
            "/stock/fruit",
            {"apple": 1},
        )
        == CREATED
    )
    assert stored() == {"fruit": {"apple": 1}}


def test_patch_waiting_for_a_locked_collection_sees_what_was_added_meanwhile(
    client, seed, rival, stored, wait_for_lock_waiters, database_url
):
    seed(fruit={"pear": 1})
    fruit_id = rival.execute(
        select(Collection.id).where(Collection.name == "fruit").with_for_update()
    ).scalar_one()
    rival.execute(
        insert(Member).values(collection_id=fruit_id, name="apple", quantity=1)
    )
    answer = send_while_rival_waits(
        client,
        rival,
        wait_for_lock_waiters,
        database_url,
        Connection.commit,
        "PATCH",
        "/stock/fruit",
        {"apple": 5, "kiwi": 2},
    )
    assert answer == (200, {"message": "Collection updated"})
    assert stored() == {"fruit": {"pear": 1, "apple": 5, "kiwi": 2}}


def test_patch_waiting_for_a_deleted_collection_creates_it_again(
    client, seed, rival, stored, wait_for_lock_waiters, database_url
):
    seed(fruit={"pear": 1})
    rival.execute(delete(Collection).where(Collection.name == "fruit"))
    answer = send_while_rival_waits(
        client,
        rival,
        wait_for_lock_waiters,
        database_url,
        Connection.commit,
        "PATCH",
        "/stock/fruit",
        {"apple": 5},
    )
    assert answer == CREATED
    assert stored() == {"fruit": {"apple": 5}}


def run_together(app, requests: list[tuple[str, str, object]]) -> list[tuple]:
    """Send the requests from as many threads at once; their (status, JSON)."""
    start = threading.Barrier(len(requests))

    def send(method: str, path: str, body: object) -> tuple:
        client = app.test_client()
        start.wait()
        response = client.open(path, method=method, json=body)
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(lambda request: send(*request), requests))


def test_simultaneous_posts_create_once_and_reject_the_others(app, stored):
    answers = run_together(
        app, [("POST", "/stock/fruit", {"apple": n}) for n in range(6)]
    )
    assert sorted(answers, key=lambda answer: answer[0]) == [CREATED] + 5 * [
        ALREADY_EXISTS
    ]
    assert len(stored()["fruit"]) == 1


def test_simultaneous_puts_of_a_new_collection_create_it_once(app, stored):
    answers = run_together(
        app, [("PUT", "/stock/fruit", {"apple": n}) for n in range(6)]
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * 5 + [201]
    assert list(stored()) == ["fruit"]
    assert len(stored()["fruit"]) == 1


def test_simultaneous_patches_of_different_members_lose_none(app, seed, stored):
    seed(fruit={"pear": 1})
    names = [f"member{n}" for n in range(8)]
    answers = run_together(
        app, [("PATCH", "/stock/fruit", {name: n}) for n, name in enumerate(names)]
    )
    assert answers == [(200, {"message": "Collection updated"})] * len(names)
    assert stored() == {
        "fruit": {"pear": 1} | {name: n for n, name in enumerate(names)}
    }
