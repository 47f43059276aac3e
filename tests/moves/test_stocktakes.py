"""Stocktakes: open a count of a collection, record counts from several clerks,
read the variances, commit them as movements of kind "stocktake" (or cancel),
and refuse everything else with nothing stored."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from helpers import TIMESTAMP, bearer, problem_body
from sqlalchemy import Connection, text

from stockapp.core.rules import QUANTITY_RULE
from stockapp.webhooks import subscriptions
from stockapp.webhooks.validation import SubscriptionFields


class _Timestamp:
    """Equal to any timestamp as the API writes one."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and TIMESTAMP.fullmatch(other) is not None

    def __repr__(self) -> str:
        return "<timestamp>"


AT = _Timestamp()


def not_found(stocktake_id: int) -> dict[str, Any]:
    return problem_body(
        404, "Stocktake not found", f"There is no stocktake {stocktake_id}."
    )


def closed(stocktake_id: int, state: str) -> dict[str, Any]:
    return problem_body(
        409,
        "Stocktake closed",
        f"Stocktake {stocktake_id} is {state}: it can no longer change; nothing"
        " was changed.",
        state=state,
    )


def invalid(errors: dict[str, str]) -> dict[str, Any]:
    (key, why), *rest = errors.items()
    more = f" (and {len(rest)} more: see errors)" if rest else ""
    return problem_body(400, "Invalid input", f"{key}: {why}{more}", errors=errors)


def summary(stocktake_id: int = 1, **fields: Any) -> dict[str, Any]:
    return {
        "id": stocktake_id,
        "collection": "fruit",
        "note": None,
        "state": "open",
        "opened_by": None,
        "opened_at": AT,
        "closed_by": None,
        "closed_at": None,
        "counted": 0,
        **fields,
    }


def report(
    stocktake_id: int = 1,
    counts: list[dict[str, Any]] | None = None,
    uncounted: list[str] | None = None,
    uncounted_policy: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    counts = counts or []
    return {
        **summary(stocktake_id, counted=len(counts), **fields),
        "uncounted_policy": uncounted_policy,
        "counts": counts,
        "uncounted": uncounted or [],
    }


def count(
    member: str,
    counted: int,
    stored_then: int,
    version_then: int,
    expected: int | None,
    after: int | None,
    counted_by: str | None = None,
) -> dict[str, Any]:
    return {
        "member": member,
        "counted": counted,
        "stored_then": stored_then,
        "version_then": version_then,
        "expected": expected,
        "variance": counted - stored_then,
        "after": after,
        "counted_by": counted_by,
        "counted_at": AT,
    }


@pytest.fixture
def version(rows):
    """The stored version of a member of fruit."""

    def read(member: str, collection: str = "fruit") -> int:
        (row,) = rows(
            "SELECT m.version FROM members m JOIN collections c"
            " ON c.id = m.collection_id WHERE c.name = :c AND m.name = :m",
            c=collection,
            m=member,
        )
        return row["version"]

    return read


@pytest.fixture
def movements(rows):
    """The movement log of a collection, oldest first, as tuples."""

    def read(collection: str = "fruit", since: int = 0) -> list[tuple]:
        return [
            (row["member"], row["kind"], row["before"], row["after"], row["reason"])
            + (row["by"], row["stocktake"])
            for row in rows(
                "SELECT member, kind, before, after, reason, by, stocktake"
                " FROM movements WHERE collection = :c AND id > :since ORDER BY id",
                c=collection,
                since=since,
            )
        ]

    return read


@pytest.fixture
def last_movement(rows):
    def read() -> int:
        (row,) = rows("SELECT coalesce(max(id), 0) AS last FROM movements")
        return row["last"]

    return read


@pytest.fixture
def stored_counts(rows):
    """What is stored of stocktake 1's counts, by member."""

    def read(stocktake_id: int = 1) -> dict[str, tuple]:
        return {
            row["member"]: (row["quantity"], row["counted_by"], row["before"])
            + (row["after"],)
            for row in rows(
                "SELECT member, quantity, counted_by, before, after"
                " FROM stocktake_counts WHERE stocktake_id = :id ORDER BY member",
                id=stocktake_id,
            )
        }

    return read


@pytest.fixture
def stocktake_state(rows):
    def read(stocktake_id: int = 1) -> tuple:
        (row,) = rows(
            "SELECT state, closed_by, uncounted FROM stocktakes WHERE id = :id",
            id=stocktake_id,
        )
        return row["state"], row["closed_by"], row["uncounted"]

    return read


@pytest.fixture
def users(make_user, make_token):
    """Write tokens of the clerks ann and bob, a read token of the viewer vera."""
    make_user("ann", "clerk")
    make_user("bob", "clerk")
    make_user("vera", "viewer")
    return {
        "ann": bearer(make_token("ann", "write")),
        "bob": bearer(make_token("bob", "write")),
        "vera": bearer(make_token("vera", "read")),
    }


def opened(client, collection: str = "fruit", **kwargs: Any) -> int:
    response = client.post("/stocktakes", json={"collection": collection}, **kwargs)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def counted(client, stocktake_id: int, member: str, quantity: int, **kwargs: Any):
    response = client.put(
        f"/stocktakes/{stocktake_id}/counts/{member}",
        json={"quantity": quantity},
        **kwargs,
    )
    assert response.status_code in (200, 201), response.get_json()
    return response


# The whole flow --------------------------------------------------------------


def test_a_stocktake_is_opened_counted_and_committed(
    client, seed, stored, users, version, movements, stored_counts, stocktake_state
):
    seed(fruit={"apple": 12, "pear": 5, "fig": 3})
    ann, bob = users["ann"], users["bob"]
    versions = {name: version(name) for name in ("apple", "pear", "fig")}

    response = client.post(
        "/stocktakes", json={"collection": "fruit", "note": "end of month"}, headers=ann
    )
    assert response.status_code == 201
    assert response.headers["Location"] == "/stocktakes/1"
    assert response.get_json() == report(
        note="end of month", opened_by="ann", uncounted=["apple", "pear", "fig"]
    )

    response = counted(client, 1, "pear", 6, headers=bob)
    assert response.status_code == 201
    assert response.get_json() == count("pear", 6, 5, versions["pear"], 5, 6, "bob")
    response = counted(client, 1, "apple", 10, headers=ann)
    assert response.status_code == 201
    assert response.get_json() == count(
        "apple", 10, 12, versions["apple"], 12, 10, "ann"
    )

    apple = count("apple", 10, 12, versions["apple"], 12, 10, "ann")
    pear = count("pear", 6, 5, versions["pear"], 5, 6, "bob")
    response = client.get("/stocktakes/1", headers=users["vera"])
    assert response.status_code == 200
    assert response.get_json() == report(
        note="end of month", opened_by="ann", counts=[apple, pear], uncounted=["fig"]
    )
    assert stored() == {"fruit": {"apple": 12, "pear": 5, "fig": 3}}

    response = client.post("/stocktakes/1/commit", headers=ann)
    assert response.status_code == 200
    assert response.get_json() == report(
        note="end of month",
        opened_by="ann",
        state="committed",
        closed_by="ann",
        closed_at=AT,
        counts=[apple, pear],
        uncounted=["fig"],
        uncounted_policy="leave",
    )
    assert stored() == {"fruit": {"apple": 10, "pear": 6, "fig": 3}}
    assert movements()[3:] == [
        ("apple", "stocktake", 12, 10, "stocktake 1, counted by ann", "ann", 1),
        ("pear", "stocktake", 5, 6, "stocktake 1, counted by bob", "ann", 1),
    ]
    assert stored_counts() == {"apple": (10, "ann", 12, 10), "pear": (6, "bob", 5, 6)}
    assert stocktake_state() == ("committed", "ann", "leave")
    # The report reads the same afterwards, and the list shows it.
    assert client.get("/stocktakes/1").get_json() == response.get_json()
    assert client.get("/stocktakes").get_json() == {
        "stocktakes": [
            summary(
                note="end of month",
                opened_by="ann",
                state="committed",
                closed_by="ann",
                closed_at=AT,
                counted=2,
            )
        ]
    }


def test_the_history_shows_each_movement_with_its_stocktake(client, seed):
    seed(fruit={"apple": 12})
    opened(client)
    counted(client, 1, "apple", 11)
    client.post("/stocktakes/1/commit")
    response = client.get("/stock/fruit/apple/history?limit=1")
    assert response.get_json()["movements"] == [
        {
            "id": 2,
            "collection": "fruit",
            "member": "apple",
            "kind": "stocktake",
            "before": 12,
            "after": 11,
            "reason": "stocktake 1, counted anonymously",
            "by": None,
            "at": AT,
            "stocktake": 1,
        }
    ]


def test_a_sale_between_the_count_and_the_commit_is_not_a_loss(
    client, seed, stored, version
):
    seed(fruit={"apple": 12})
    apple = version("apple")
    opened(client)
    counted(client, 1, "apple", 10)
    sold = client.post("/stock/fruit/apple/adjustments", json={"delta": -3})
    assert sold.get_json() == {"quantity": 9}
    # Two were missing when counted; the three sold since are not.
    assert client.get("/stocktakes/1").get_json()["counts"] == [
        count("apple", 10, 12, apple, 9, 7)
    ]
    response = client.post("/stocktakes/1/commit")
    assert response.get_json()["counts"] == [count("apple", 10, 12, apple, 9, 7)]
    assert stored() == {"fruit": {"apple": 7}}


def test_the_commit_never_sets_a_quantity_below_zero(client, seed, stored, version):
    seed(fruit={"apple": 5})
    apple = version("apple")
    opened(client)
    counted(client, 1, "apple", 1)
    client.post("/stock/fruit/apple/adjustments", json={"delta": -3})
    response = client.post("/stocktakes/1/commit")
    assert response.get_json()["counts"] == [count("apple", 1, 5, apple, 2, 0)]
    assert stored() == {"fruit": {"apple": 0}}


@pytest.mark.parametrize(
    ("body", "policy", "stock", "zeroed"),
    [
        (None, "leave", {"apple": 4, "pear": 5, "fig": 3, "kiwi": 0}, []),
        ({}, "leave", {"apple": 4, "pear": 5, "fig": 3, "kiwi": 0}, []),
        (
            {"uncounted": "leave"},
            "leave",
            {"apple": 4, "pear": 5, "fig": 3, "kiwi": 0},
            [],
        ),
        (
            {"uncounted": "zero"},
            "zero",
            {"apple": 4, "pear": 0, "fig": 0, "kiwi": 0},
            [("pear", 5), ("fig", 3)],
        ),
    ],
)
def test_uncounted_members_are_left_alone_or_zeroed(
    client, seed, stored, movements, body, policy, stock, zeroed
):
    seed(fruit={"apple": 12, "pear": 5, "fig": 3, "kiwi": 0})
    opened(client)
    counted(client, 1, "apple", 4)
    kwargs = {} if body is None else {"json": body}
    response = client.post("/stocktakes/1/commit", **kwargs)
    assert response.status_code == 200
    found = response.get_json()
    assert (found["uncounted_policy"], found["uncounted"]) == (
        policy,
        ["pear", "fig", "kiwi"],
    )
    assert stored() == {"fruit": stock}
    # kiwi holds nothing already: zeroing it logs nothing.
    assert movements()[4:] == [
        ("apple", "stocktake", 12, 4, "stocktake 1, counted anonymously", None, 1),
        *(
            (name, "stocktake", before, 0, "stocktake 1, not counted", None, 1)
            for name, before in zeroed
        ),
    ]


def test_a_recount_replaces_the_count(
    client, seed, stored, users, version, stored_counts, movements
):
    seed(fruit={"apple": 12})
    apple = version("apple")
    opened(client)
    first = counted(client, 1, "apple", 10, headers=users["ann"])
    assert first.status_code == 201
    client.post("/stock/fruit/apple/adjustments", json={"delta": 1})
    again = counted(client, 1, "apple", 11, headers=users["bob"])
    assert again.status_code == 200
    # The later count, with the quantity and version when it was made.
    assert again.get_json() == count("apple", 11, 13, apple + 1, 13, 11, "bob")
    assert client.get("/stocktakes/1").get_json()["counts"] == [again.get_json()]
    assert stored_counts() == {"apple": (11, "bob", None, None)}
    client.post("/stocktakes/1/commit", headers=users["ann"])
    assert stored() == {"fruit": {"apple": 11}}
    assert movements()[-1] == (
        "apple",
        "stocktake",
        13,
        11,
        "stocktake 1, counted by bob",
        "ann",
        1,
    )


def test_each_clerks_counts_are_logged_with_their_name(
    client, seed, stored, users, movements
):
    seed(fruit={"apple": 12, "pear": 5, "fig": 3, "kiwi": 8})
    opened(client, headers=users["ann"])
    counted(client, 1, "apple", 11, headers=users["ann"])
    counted(client, 1, "pear", 4, headers=users["bob"])
    counted(client, 1, "fig", 2, headers=users["ann"])
    counted(client, 1, "kiwi", 7)
    client.post("/stocktakes/1/commit", headers=users["bob"])
    assert stored() == {"fruit": {"apple": 11, "pear": 4, "fig": 2, "kiwi": 7}}
    # Grouped by clerk, each group in the members' order.
    assert movements()[4:] == [
        ("apple", "stocktake", 12, 11, "stocktake 1, counted by ann", "bob", 1),
        ("fig", "stocktake", 3, 2, "stocktake 1, counted by ann", "bob", 1),
        ("pear", "stocktake", 5, 4, "stocktake 1, counted by bob", "bob", 1),
        ("kiwi", "stocktake", 8, 7, "stocktake 1, counted anonymously", "bob", 1),
    ]


def test_a_stocktake_with_nothing_counted_commits_as_nothing_changed(
    client, seed, stored, movements
):
    seed(fruit={"apple": 12, "pear": 5})
    etag = client.get("/stock/fruit").headers["ETag"]
    opened(client)
    response = client.post("/stocktakes/1/commit")
    assert response.status_code == 200
    assert response.get_json() == report(
        state="committed",
        closed_at=AT,
        uncounted=["apple", "pear"],
        uncounted_policy="leave",
    )
    assert stored() == {"fruit": {"apple": 12, "pear": 5}}
    assert len(movements()) == 2
    assert client.get("/stock/fruit").headers["ETag"] == etag


def test_a_count_that_matches_the_stock_changes_nothing(
    client, seed, stored, movements, version
):
    seed(fruit={"apple": 12})
    apple = version("apple")
    opened(client)
    counted(client, 1, "apple", 12)
    response = client.post("/stocktakes/1/commit")
    assert response.get_json()["counts"] == [count("apple", 12, 12, apple, 12, 12)]
    assert len(movements()) == 1
    assert version("apple") == apple


def test_a_member_deleted_after_its_count_is_left_alone(
    client, seed, stored, movements, version, stored_counts
):
    seed(fruit={"apple": 12, "pear": 5})
    pear = version("pear")
    opened(client)
    counted(client, 1, "pear", 4)
    counted(client, 1, "apple", 10)
    client.delete("/stock/fruit/pear")
    gone = count("pear", 4, 5, pear, None, None)
    assert client.get("/stocktakes/1").get_json()["counts"][1] == gone
    response = client.post("/stocktakes/1/commit")
    assert response.get_json()["counts"][1] == gone
    assert stored() == {"fruit": {"apple": 10}}
    assert [entry[:4] for entry in movements()[3:]] == [("apple", "stocktake", 12, 10)]
    assert stored_counts()["pear"] == (4, None, None, None)


def test_a_deleted_collection_refuses_counts_and_the_commit(
    client, seed, stocktake_state
):
    seed(fruit={"apple": 12})
    opened(client)
    counted(client, 1, "apple", 10)
    client.delete("/stock/fruit")
    gone = problem_body(
        409,
        "Collection deleted",
        'Collection "fruit" was deleted after stocktake 1 was opened; nothing was'
        " changed. Cancel the stocktake.",
    )
    response = client.put("/stocktakes/1/counts/apple", json={"quantity": 1})
    assert (response.status_code, response.get_json()) == (409, gone)
    response = client.post("/stocktakes/1/commit")
    assert (response.status_code, response.get_json()) == (409, gone)
    assert stocktake_state() == ("open", None, None)
    # It reads, and cancels.
    assert client.get("/stocktakes/1").get_json()["counts"][0]["expected"] is None
    response = client.post("/stocktakes/1/cancel")
    assert response.status_code == 200
    assert stocktake_state() == ("cancelled", None, None)


# Closed stocktakes ------------------------------------------------------------


def test_a_stocktake_is_cancelled_without_changing_stock(
    client, seed, stored, users, version, movements, stocktake_state
):
    seed(fruit={"apple": 12})
    apple = version("apple")
    opened(client)
    counted(client, 1, "apple", 10)
    response = client.post("/stocktakes/1/cancel", headers=users["bob"])
    assert response.status_code == 200
    assert response.get_json() == report(
        state="cancelled",
        closed_by="bob",
        closed_at=AT,
        counts=[count("apple", 10, 12, apple, 12, None)],
    )
    assert stored() == {"fruit": {"apple": 12}}
    assert len(movements()) == 1
    assert stocktake_state() == ("cancelled", "bob", None)


@pytest.mark.parametrize("first", ["commit", "cancel"])
@pytest.mark.parametrize("then", ["commit", "cancel"])
def test_a_closed_stocktake_cannot_be_closed_again(
    client, seed, stored, movements, stocktake_state, first, then
):
    seed(fruit={"apple": 12, "pear": 5})
    opened(client)
    counted(client, 1, "apple", 10)
    client.post(f"/stocktakes/1/{first}")
    state = {"commit": "committed", "cancel": "cancelled"}[first]
    before = (stored(), movements(), stocktake_state(), client.get("/stocktakes/1"))
    response = client.post(f"/stocktakes/1/{then}", json={"uncounted": "zero"})
    assert (response.status_code, response.get_json()) == (409, closed(1, state))
    after = (stored(), movements(), stocktake_state(), client.get("/stocktakes/1"))
    assert after[:3] == before[:3]
    assert after[3].get_json() == before[3].get_json()


@pytest.mark.parametrize(
    ("close", "state"), [("commit", "committed"), ("cancel", "cancelled")]
)
def test_a_closed_stocktake_takes_no_counts(client, seed, stored_counts, close, state):
    seed(fruit={"apple": 12, "pear": 5})
    opened(client)
    counted(client, 1, "apple", 10)
    client.post(f"/stocktakes/1/{close}")
    for member in ("apple", "pear"):
        response = client.put(f"/stocktakes/1/counts/{member}", json={"quantity": 3})
        assert (response.status_code, response.get_json()) == (409, closed(1, state))
    assert {name: row[0] for name, row in stored_counts().items()} == {"apple": 10}


def test_an_idempotent_commit_replays_its_answer(client, seed, stored):
    seed(fruit={"apple": 12})
    opened(client)
    counted(client, 1, "apple", 10)
    key = {"Idempotency-Key": "commit-1"}
    first = client.post("/stocktakes/1/commit", headers=key)
    again = client.post("/stocktakes/1/commit", headers=key)
    assert (again.status_code, again.get_json()) == (200, first.get_json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert stored() == {"fruit": {"apple": 10}}


def test_an_idempotent_open_opens_once(client, seed, rows):
    seed(fruit={"apple": 12})
    key = {"Idempotency-Key": "open-1"}
    first = client.post("/stocktakes", json={"collection": "fruit"}, headers=key)
    again = client.post("/stocktakes", json={"collection": "fruit"}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == "/stocktakes/1"
    assert rows("SELECT count(*) AS n FROM stocktakes") == [{"n": 1}]


# Bad input --------------------------------------------------------------------

QUANTITY_REQUIRED = {"quantity": "is required"}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"quantity": -1}, {"quantity": QUANTITY_RULE}),
        ({"quantity": 2**63}, {"quantity": QUANTITY_RULE}),
        ({"quantity": 1.5}, {"quantity": QUANTITY_RULE}),
        ({"quantity": 2.0}, {"quantity": QUANTITY_RULE}),
        ({"quantity": "3"}, {"quantity": QUANTITY_RULE}),
        ({"quantity": True}, {"quantity": QUANTITY_RULE}),
        ({"quantity": None}, {"quantity": QUANTITY_RULE}),
        ({}, QUANTITY_REQUIRED),
        (
            {"quantity": 3, "note": "x"},
            {"note": "is not a field of a count (quantity)"},
        ),
        (
            {"qty": 3},
            {"qty": "is not a field of a count (quantity)", **QUANTITY_REQUIRED},
        ),
        (3, {"body": "must be a JSON object with a quantity"}),
        ([], {"body": "must be a JSON object with a quantity"}),
    ],
)
def test_a_bad_count_is_refused_and_nothing_stored(
    client, seed, stored_counts, body, errors
):
    seed(fruit={"apple": 12})
    opened(client)
    response = client.put("/stocktakes/1/counts/apple", json=body)
    assert (response.status_code, response.get_json()) == (400, invalid(errors))
    assert stored_counts() == {}


def test_a_count_with_a_key_twice_or_broken_json_is_refused(
    client, seed, stored_counts
):
    seed(fruit={"apple": 12})
    opened(client)
    headers = {"Content-Type": "application/json"}
    twice = client.put(
        "/stocktakes/1/counts/apple",
        data='{"quantity": 1, "quantity": 2}',
        headers=headers,
    )
    assert twice.status_code == 400
    assert twice.get_json()["errors"] == {
        "quantity": "appears more than once in the body"
    }
    broken = client.put("/stocktakes/1/counts/apple", data="{", headers=headers)
    assert broken.status_code == 400
    not_json = client.put("/stocktakes/1/counts/apple", data="3")
    assert not_json.status_code == 415
    assert stored_counts() == {}


def test_a_count_of_a_badly_named_member_is_refused(client, seed):
    seed(fruit={"apple": 12})
    opened(client)
    response = client.put("/stocktakes/1/counts/%20", json={"quantity": 1})
    assert (response.status_code, response.get_json()) == (
        400,
        invalid({"member": "must not be only whitespace"}),
    )


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"collection": "is required"}),
        ({"collection": 3}, {"collection": "must be a string"}),
        ({"collection": "a/b"}, {"collection": "must not contain '/'"}),
        (
            {"collection": "fruit", "note": 3},
            {"note": "must be a string"},
        ),
        (
            {"collection": "fruit", "note": "x" * 201},
            {"note": "must be at most 200 characters long"},
        ),
        (
            {"collection": "fruit", "members": ["apple"]},
            {"members": "is not a field of a stocktake (collection, note)"},
        ),
        ("fruit", {"body": "must be a JSON object with a collection"}),
    ],
)
def test_a_bad_stocktake_is_refused_and_nothing_stored(
    client, seed, rows, body, errors
):
    seed(fruit={"apple": 12})
    response = client.post("/stocktakes", json=body)
    assert (response.status_code, response.get_json()) == (400, invalid(errors))
    assert rows("SELECT count(*) AS n FROM stocktakes") == [{"n": 0}]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"uncounted": "all"}, {"uncounted": 'must be "leave" or "zero"'}),
        ({"uncounted": None}, {"uncounted": 'must be "leave" or "zero"'}),
        (
            {"uncounted": "zero", "force": True},
            {"force": "is not a field of a commit (uncounted)"},
        ),
        (["zero"], {"body": "must be a JSON object"}),
        (None, {"body": "must be a JSON object"}),
    ],
)
def test_a_bad_commit_is_refused_and_nothing_changed(
    client, seed, stored, stocktake_state, body, errors
):
    seed(fruit={"apple": 12, "pear": 5})
    opened(client)
    counted(client, 1, "apple", 10)
    response = client.post(
        "/stocktakes/1/commit",
        data=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert (response.status_code, response.get_json()) == (400, invalid(errors))
    assert stored() == {"fruit": {"apple": 12, "pear": 5}}
    assert stocktake_state() == ("open", None, None)


def test_opening_a_stocktake_of_no_collection_is_refused(client, rows):
    response = client.post("/stocktakes", json={"collection": "fruit"})
    assert (response.status_code, response.get_json()) == (
        404,
        problem_body(404, "Collection not found", 'There is no collection "fruit".'),
    )
    assert rows("SELECT count(*) AS n FROM stocktakes") == [{"n": 0}]


STOCKTAKE_ROUTES = [
    ("GET", "", None),
    ("PUT", "/counts/apple", {"quantity": 1}),
    ("POST", "/commit", None),
    ("POST", "/cancel", None),
]


@pytest.mark.parametrize(("method", "tail", "body"), STOCKTAKE_ROUTES)
def test_an_unknown_stocktake_is_not_found(client, seed, method, tail, body):
    seed(fruit={"apple": 12})
    opened(client)
    response = client.open(f"/stocktakes/2{tail}", method=method, json=body)
    assert (response.status_code, response.get_json()) == (404, not_found(2))
    response = client.open(f"/stocktakes/{2**63}{tail}", method=method, json=body)
    assert (response.status_code, response.get_json()["error"]) == (404, "Not found")
    response = client.open(f"/stocktakes/one{tail}", method=method, json=body)
    assert (response.status_code, response.get_json()["error"]) == (404, "Not found")


def test_counting_an_unknown_member_is_not_found(client, seed, stored_counts):
    seed(fruit={"apple": 12}, veg={"leek": 2})
    opened(client)
    response = client.put("/stocktakes/1/counts/leek", json={"quantity": 1})
    assert (response.status_code, response.get_json()) == (
        404,
        problem_body(
            404, "Member not found", 'Collection "fruit" has no member "leek".'
        ),
    )
    assert stored_counts() == {}


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("state=done", {"state": "must be one of open, committed, cancelled"}),
        ("state=", {"state": "must be one of open, committed, cancelled"}),
        ("collection=", {"collection": "must be 1 to 100 characters long"}),
    ],
)
def test_a_bad_listing_filter_is_refused(client, query, errors):
    response = client.get(f"/stocktakes?{query}")
    assert (response.status_code, response.get_json()) == (400, invalid(errors))


def test_the_list_is_newest_first_and_filtered(client, seed):
    seed(fruit={"apple": 12}, veg={"leek": 2})
    for collection in ("fruit", "veg", "fruit"):
        opened(client, collection)
    client.post("/stocktakes/1/cancel")
    counted(client, 3, "apple", 1)

    def listed(query: str = "") -> list[tuple[int, str, str, int]]:
        response = client.get(f"/stocktakes{query}")
        assert response.status_code == 200
        return [
            (found["id"], found["collection"], found["state"], found["counted"])
            for found in response.get_json()["stocktakes"]
        ]

    assert listed() == [
        (3, "fruit", "open", 1),
        (2, "veg", "open", 0),
        (1, "fruit", "cancelled", 0),
    ]
    assert listed("?state=open") == [(3, "fruit", "open", 1), (2, "veg", "open", 0)]
    assert listed("?collection=fruit") == [
        (3, "fruit", "open", 1),
        (1, "fruit", "cancelled", 0),
    ]
    assert listed("?state=committed") == []
    assert listed("?collection=fruit&state=cancelled") == [(1, "fruit", "cancelled", 0)]


# Who may ----------------------------------------------------------------------


@pytest.mark.parametrize(("method", "tail", "body"), STOCKTAKE_ROUTES)
def test_a_limited_token_cannot_see_or_touch_other_collections_stocktakes(
    client, seed, make_user, make_token, stored, stocktake_state, method, tail, body
):
    seed(fruit={"apple": 12}, veg={"leek": 2})
    opened(client)
    make_user("ann", "clerk")
    veg_only = bearer(make_token("ann", "write", collections=["veg"]))
    response = client.open(
        f"/stocktakes/1{tail}", method=method, json=body, headers=veg_only
    )
    # Just as if there were no stocktake 1.
    assert (response.status_code, response.get_json()) == (404, not_found(1))
    assert stored() == {"fruit": {"apple": 12}, "veg": {"leek": 2}}
    assert stocktake_state() == ("open", None, None)


def test_a_limited_token_lists_and_opens_only_its_collections(
    client, seed, make_user, make_token, rows
):
    seed(fruit={"apple": 12}, veg={"leek": 2})
    opened(client, "fruit")
    opened(client, "veg")
    make_user("ann", "clerk")
    veg_only = bearer(make_token("ann", "write", collections=["veg"]))
    response = client.get("/stocktakes", headers=veg_only)
    assert [found["id"] for found in response.get_json()["stocktakes"]] == [2]
    response = client.get("/stocktakes?collection=fruit", headers=veg_only)
    assert response.get_json() == {"stocktakes": []}
    # fruit is as absent as a collection that does not exist.
    for collection in ("fruit", "nuts"):
        response = client.post(
            "/stocktakes", json={"collection": collection}, headers=veg_only
        )
        assert (response.status_code, response.get_json()) == (
            404,
            problem_body(404, "Not found", f'There is no collection "{collection}".'),
        )
    assert opened(client, "veg", headers=veg_only) == 3
    assert counted(client, 3, "leek", 1, headers=veg_only).status_code == 201
    assert client.post("/stocktakes/3/commit", headers=veg_only).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/stocktakes", {"collection": "fruit"}),
        ("PUT", "/stocktakes/1/counts/apple", {"quantity": 1}),
        ("POST", "/stocktakes/1/commit", None),
        ("POST", "/stocktakes/1/cancel", None),
    ],
)
def test_a_read_token_reads_but_cannot_write(
    client, seed, users, stored_counts, stocktake_state, method, path, body
):
    seed(fruit={"apple": 12})
    opened(client)
    vera = users["vera"]
    assert client.get("/stocktakes/1", headers=vera).status_code == 200
    assert client.get("/stocktakes", headers=vera).status_code == 200
    response = client.open(path, method=method, json=body, headers=vera)
    assert response.status_code == 403
    assert response.get_json()["error"] == "Forbidden"
    assert stored_counts() == {}
    assert stocktake_state() == ("open", None, None)


def test_without_anonymous_access_a_token_is_needed(make_app, seed, client):
    seed(fruit={"apple": 12})
    opened(client)
    closed_app = make_app(ANONYMOUS_ACCESS="none").test_client()
    for method, tail, body in STOCKTAKE_ROUTES:
        response = closed_app.open(f"/stocktakes/1{tail}", method=method, json=body)
        assert response.status_code == 401


# Concurrency ------------------------------------------------------------------


def _while_rival_holds(client, rival, wait_for_lock_waiters, url, method, path, body):
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(client.open, path, method=method, json=body)
        wait_for_lock_waiters(url, 1)
        assert not pending.done()
        rival.commit()
        return pending.result(timeout=30)


def test_a_commit_waits_for_a_count_under_way_and_applies_it(
    client, seed, stored, rival, wait_for_lock_waiters, database_url, version
):
    seed(fruit={"apple": 12})
    apple = version("apple")
    opened(client)
    # A count under way: it holds the stocktake as counting does, and writes.
    rival.execute(text("SELECT state FROM stocktakes WHERE id = 1" + _share(rival)))
    rival.execute(
        text(
            "INSERT INTO stocktake_counts (stocktake_id, member, quantity,"
            " stored_quantity, stored_version, counted_at)"
            " VALUES (1, 'apple', 9, 12, :version, CURRENT_TIMESTAMP)"
        ),
        {"version": apple},
    )
    response = _while_rival_holds(
        client,
        rival,
        wait_for_lock_waiters,
        database_url,
        "POST",
        "/stocktakes/1/commit",
        None,
    )
    assert response.status_code == 200
    assert [entry["after"] for entry in response.get_json()["counts"]] == [9]
    assert stored() == {"fruit": {"apple": 9}}


def test_a_count_waiting_for_a_commit_is_refused(
    client, seed, stored, rival, wait_for_lock_waiters, database_url, stored_counts
):
    seed(fruit={"apple": 12})
    opened(client)
    rival.execute(text("SELECT state FROM stocktakes WHERE id = 1" + _update(rival)))
    rival.execute(text("UPDATE stocktakes SET state = 'committed' WHERE id = 1"))
    response = _while_rival_holds(
        client,
        rival,
        wait_for_lock_waiters,
        database_url,
        "PUT",
        "/stocktakes/1/counts/apple",
        {"quantity": 3},
    )
    assert (response.status_code, response.get_json()) == (409, closed(1, "committed"))
    assert stored_counts() == {}


def _share(connection: Connection) -> str:
    return "" if connection.dialect.name == "sqlite" else " FOR SHARE"


def _update(connection: Connection) -> str:
    return "" if connection.dialect.name == "sqlite" else " FOR UPDATE"


def test_counts_racing_a_commit_are_applied_or_refused_never_lost(app, seed, stored):
    members = {f"m{number}": 10 for number in range(12)}
    seed(fruit=members)
    opened(app.test_client())
    start = threading.Barrier(len(members) + 1)

    def count_one(name: str) -> int:
        start.wait()
        response = app.test_client().put(
            f"/stocktakes/1/counts/{name}", json={"quantity": 3}
        )
        assert response.status_code in (201, 409), response.get_json()
        return response.status_code

    def commit() -> dict[str, Any]:
        start.wait()
        response = app.test_client().post("/stocktakes/1/commit")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    with ThreadPoolExecutor(len(members) + 1) as pool:
        answers = {name: pool.submit(count_one, name) for name in members}
        committed = pool.submit(commit).result(timeout=60)
        statuses = {name: answer.result(timeout=60) for name, answer in answers.items()}
    applied = {entry["member"]: entry["after"] for entry in committed["counts"]}
    # Each count was either in the commit or refused.
    assert applied == {name: 3 for name, status in statuses.items() if status == 201}
    assert stored() == {
        "fruit": {name: 3 if name in applied else 10 for name in members}
    }


# What others see --------------------------------------------------------------


def test_webhooks_announce_each_stocktake_movement(app, client, seed, rows):
    with app.app_context():
        subscriptions.create_subscription(
            SubscriptionFields("https://hooks.example/stock", ("movement.created",))
        )
    seed(fruit={"apple": 12, "pear": 5})
    opened(client)
    counted(client, 1, "apple", 10)
    client.post("/stocktakes/1/commit", json={"uncounted": "zero"})
    events = [
        json.loads(row["payload"])["data"]
        for row in rows("SELECT payload FROM webhook_deliveries ORDER BY id")
    ][2:]
    assert [
        (data["member"], data["kind"], data["before"], data["after"], data["reason"])
        for data in events
    ] == [
        ("apple", "stocktake", 12, 10, "stocktake 1, counted anonymously"),
        ("pear", "stocktake", 5, 0, "stocktake 1, not counted"),
    ]


def test_the_export_shows_the_committed_stock(client, seed):
    seed(fruit={"apple": 12})
    opened(client)
    counted(client, 1, "apple", 10)
    client.post("/stocktakes/1/commit")
    assert client.get("/export.json").get_json() == {"fruit": {"apple": 10}}


# Cost -------------------------------------------------------------------------


def test_a_commit_costs_the_same_statements_whatever_a_clerks_count(
    client, seed, count_statements
):
    def statements_of_commit(size: int, collection: str) -> int:
        seed(**{collection: {f"m{number}": 10 for number in range(size)}})
        stocktake_id = opened(client, collection)
        for number in range(size):
            counted(client, stocktake_id, f"m{number}", number)
        with count_statements() as statements:
            response = client.post(f"/stocktakes/{stocktake_id}/commit")
        assert response.status_code == 200
        return len(statements)

    assert statements_of_commit(2, "small") == statements_of_commit(30, "large")
