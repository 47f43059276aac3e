"""The merge patch's shortcut (stock/merge_shortcut.py) answers and stores
exactly what Flask does, and only when it is certain; every other request is
Flask's.

Each comparison sends the same PATCH to two collections stocked alike, "fast"
through the app with the shortcut and "slow" through the app without it, and
compares the answers (header for header, but for the collection's name and
version) and what each left stored: members, version and movement log.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import answer, assert_logged_and_counted, bearer
from sqlalchemy.exc import OperationalError

from stockapp.core.errors import Problem
from stockapp.core.request_toll import request_toll
from stockapp.stock import units
from stockapp.stock.merge_shortcut import MAX_BODY, MergePatchShortcut

MERGE_PATCH = "application/merge-patch+json"
STOCK = {"apple": 30, "pear": 2}


@pytest.fixture
def pair(shortcut_pair):
    """``pair(**config)`` -> (spy, with, without): the merge patch's shortcut."""
    return lambda **config: shortcut_pair(MergePatchShortcut, **config)


@pytest.fixture
def stocked(seed):
    seed(fast=STOCK, slow=STOCK)


def patch(client, path: str, body: Any = None, raw: Any = None, **kwargs: Any):
    """PATCH ``body`` as JSON (or ``raw`` as it is), as a merge patch unless
    ``content_type`` says otherwise."""
    kwargs.setdefault("content_type", MERGE_PATCH)
    return client.patch(path, data=json.dumps(body) if raw is None else raw, **kwargs)


def stored(rows, collection: str) -> dict[str, Any]:
    """What the database holds of ``collection``."""
    return {
        "version": rows(
            "SELECT version FROM collections WHERE name = :name", name=collection
        ),
        "members": rows(
            "SELECT members.name, quantity FROM members JOIN collections"
            " ON collections.id = members.collection_id"
            " WHERE collections.name = :name ORDER BY members.id",
            name=collection,
        ),
        "log": rows(
            'SELECT member, kind, "before", "after", reason, "by" FROM movements'
            " WHERE collection = :name ORDER BY id",
            name=collection,
        ),
    }


def in_general(got: tuple, collection: str, state: dict[str, Any]) -> tuple:
    """An answer with its collection's name and version (checked against the
    stored one) put as placeholders, to compare two collections' answers."""
    status, headers, body = got
    general = []
    for name, value in headers:
        if name == "ETag":
            assert value == f'"{state["version"][0]["version"]}"'
            value = "<version>"
        elif name == "Location":
            assert value == f"/stock/{collection}"
            value = "/stock/<collection>"
        general.append((name, value))
    return status, general, body


def _unnamed(got: tuple, collection: str, state: dict[str, Any]) -> tuple:
    """An error with its collection's name and version (which it may name) put
    as placeholders, and its length checked."""
    status, headers, body = got
    assert dict(headers)["Content-Length"] == str(len(body))
    headers = [(k, "<length>" if k == "Content-Length" else v) for k, v in headers]
    body = body.replace(collection.encode(), b"<collection>")
    for row in state["version"]:
        body = body.replace(str(row["version"]).encode(), b"<version>")
    return status, headers, body


def same_write(spy, fast, slow, rows, body: Any = None, **kwargs: Any):
    """The same PATCH to "fast" by the shortcut's app and to "slow" by
    Flask's: assert the same answer and the same stored state; return the
    answer and whether the shortcut gave it."""
    collections = kwargs.pop("collections", ("fast", "slow"))
    # One request id for both: an error's body names it.
    kwargs["headers"] = {"X-Request-ID": "same-write", **kwargs.get("headers", {})}
    flask_response = patch(slow, f"/stock/{collections[1]}", body, **kwargs)
    spy.answered.clear()
    shortcut_response = patch(fast, f"/stock/{collections[0]}", body, **kwargs)
    # The status line, word for word ("201 CREATED").
    assert shortcut_response.status == flask_response.status
    by_flask, by_shortcut = answer(flask_response), answer(shortcut_response)
    fast_state, slow_state = (stored(rows, name) for name in collections)
    if by_flask[0] < 300:
        assert in_general(by_shortcut, collections[0], fast_state) == in_general(
            by_flask, collections[1], slow_state
        )
    else:
        # An error may name the collection.
        assert _unnamed(by_shortcut, collections[0], fast_state) == _unnamed(
            by_flask, collections[1], slow_state
        )
    fast_state.pop("version")
    slow_state.pop("version")
    assert fast_state == slow_state
    return by_shortcut, spy.answered == [True]


@pytest.mark.parametrize(
    "changes",
    [
        {"apple": 12},
        {"apple": 1, "kiwi": 5, "pear": None},
        {"apple": 30},
        {"kiwi": None},
        {},
    ],
)
def test_an_anonymous_merge_is_the_shortcut_s_and_the_same(
    pair, stocked, rows, changes
):
    spy, fast, slow = pair(ANONYMOUS_ACCESS="write")
    (status, headers, body), answered = same_write(spy, fast, slow, rows, changes)
    assert answered
    assert (status, body) == (200, b'{"message":"Collection updated"}\n')
    assert [name for name, _ in headers] == [
        "Content-Type",
        "Content-Length",
        "ETag",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Content-Security-Policy",
        "Vary",
    ]
    expected = {**STOCK, **changes}
    assert {
        row["name"]: row["quantity"] for row in stored(rows, "fast")["members"]
    } == {name: quantity for name, quantity in expected.items() if quantity is not None}


def test_a_merge_that_creates_the_collection_is_the_shortcut_s(pair, rows):
    spy, fast, slow = pair(ANONYMOUS_ACCESS="write")
    (status, headers, body), answered = same_write(
        spy, fast, slow, rows, {"kiwi": 3}, collections=("new-fast", "new-slow")
    )
    assert answered
    assert (status, body) == (201, b'{"message":"Collection created"}\n')
    assert dict(headers)["Location"] == "/stock/new-fast"
    assert stored(rows, "new-fast")["log"] == [
        {
            "member": "kiwi",
            "kind": "update",
            "before": None,
            "after": 3,
            "reason": None,
            "by": None,
        }
    ]


def test_a_json_body_is_taken_as_a_merge_patch(pair, stocked, rows):
    spy, fast, slow = pair(ANONYMOUS_ACCESS="write")
    (status, _, _), answered = same_write(
        spy, fast, slow, rows, {"apple": 7}, content_type="application/json"
    )
    assert answered and status == 200


def test_a_token_write_is_the_shortcut_s_once_its_use_is_recorded(
    pair, stocked, rows, make_user, make_token
):
    make_user("alice", "clerk")
    token = make_token("alice", "write")
    spy, fast, slow = pair(ANONYMOUS_ACCESS="none")
    # The first use is written (last_used_at): Flask's.
    first = patch(fast, "/stock/fast", {"apple": 29}, headers=bearer(token))
    assert first.status_code == 200
    assert spy.answered == [False]
    patch(slow, "/stock/slow", {"apple": 29}, headers=bearer(token))
    (status, headers, _), answered = same_write(
        spy, fast, slow, rows, {"apple": 28}, headers=bearer(token)
    )
    assert answered and status == 200
    assert dict(headers)["Cache-Control"] == "private, no-cache"
    assert stored(rows, "fast")["log"][-1]["by"] == "alice"


def test_a_limited_token_writes_by_the_shortcut_in_its_collections_only(
    pair, stocked, rows, make_user, make_token
):
    make_user("alice", "clerk")
    token = make_token("alice", "write", collections=["fast", "slow"])
    spy, fast, slow = pair(ANONYMOUS_ACCESS="none")
    same_write(spy, fast, slow, rows, {"apple": 29}, headers=bearer(token))
    _, answered = same_write(
        spy, fast, slow, rows, {"apple": 28}, headers=bearer(token)
    )
    assert answered
    (status, _, _), answered = same_write(
        spy,
        fast,
        slow,
        rows,
        {"apple": 1},
        headers=bearer(token),
        collections=("other-fast", "other-slow"),
    )
    assert not answered
    assert status == 403


_DECLINED = [
    ({"headers": {"If-Match": "*"}}, 200),
    ({"headers": {"If-Match": '"1"'}}, 412),
    ({"headers": {"If-None-Match": "*"}}, 412),
    ({"headers": {"Idempotency-Key": "k-1"}}, 200),
    ({"query_string": {"x": "1"}}, 200),
    ({"content_type": "text/plain"}, 415),
    ({"content_type": "application/problem+json"}, 200),
    ({"raw": "{"}, 400),
    ({"raw": '{"apple": 1, "apple": 2}'}, 400),
    ({"raw": b'{"\xff": 1}'}, 400),
    ({"raw": ""}, 400),
    ({"raw": "[1]"}, 400),
    ({"raw": '{"apple": -1}'}, 400),
    ({"raw": '{"apple": 1.5}'}, 400),
    ({"raw": '{"a/b": 1}'}, 400),
    ({"raw": '{"apple": 1}', "headers": {"Authorization": "Basic eDp5"}}, 401),
    ({"raw": '{"apple": 1}', "headers": bearer("stk_" + "A" * 43)}, 401),
]


@pytest.mark.parametrize(("kwargs", "status"), _DECLINED)
def test_everything_else_is_flask_s(pair, stocked, rows, kwargs, status):
    spy, fast, slow = pair(ANONYMOUS_ACCESS="write")
    body = None if "raw" in kwargs else {"apple": 3}
    (got, _, _), answered = same_write(spy, fast, slow, rows, body, **kwargs)
    assert got == status
    assert not answered


def test_a_body_over_the_shortcut_s_size_is_flask_s(pair, stocked, rows):
    spy, fast, slow = pair(ANONYMOUS_ACCESS="write")
    changes = {f"m{number:06d}": number for number in range(MAX_BODY // 12)}
    assert len(json.dumps(changes)) > MAX_BODY
    (status, _, _), answered = same_write(spy, fast, slow, rows, changes)
    assert (status, answered) == (200, False)


def test_a_body_shorter_than_declared_is_flask_s(pair, stocked):
    spy, fast, slow = pair(ANONYMOUS_ACCESS="write")
    short = {"environ_overrides": {"CONTENT_LENGTH": "40"}, "raw": '{"apple": 1}'}
    assert answer(patch(fast, "/stock/fast", **short)) == answer(
        patch(slow, "/stock/fast", **short)
    )
    assert spy.answered == [False]


def test_a_request_with_a_cookie_is_flask_s(pair, stocked, rows):
    spy, fast, slow = pair(ANONYMOUS_ACCESS="write")
    for client in (fast, slow):
        client.set_cookie("theme", "dark")
    (status, _, _), answered = same_write(spy, fast, slow, rows, {"apple": 3})
    assert (status, answered) == (200, False)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/stock/%20", 400),
        ("/stock/..", 400),
        ("/stock/caf%C3%A9", 201),
        ("/stock/fast/apple", 405),
        ("/stock/fast/", 404),
    ],
)
def test_other_paths_are_flask_s(pair, stocked, path, status):
    spy, fast, _ = pair(ANONYMOUS_ACCESS="write")
    assert patch(fast, path, {"apple": 3}).status_code == status
    assert spy.answered == [False]


@pytest.mark.parametrize("level", ["none", "read"])
def test_an_anonymous_caller_who_may_not_write_is_refused_by_flask(
    pair, stocked, rows, level
):
    spy, fast, slow = pair(ANONYMOUS_ACCESS=level)
    (status, _, body), answered = same_write(spy, fast, slow, rows, {"apple": 1})
    assert not answered
    assert status == 401
    assert json.loads(body)["error"] == "Authentication required"


def test_a_refused_anonymous_write_reads_nothing(
    app, client, stocked, count_statements
):
    app.config["ANONYMOUS_ACCESS"] = "read"
    with count_statements() as statements:
        response = patch(client, "/stock/fast", {"apple": 1})
    assert response.status_code == 401
    assert statements == []


def test_a_read_token_is_refused_by_flask(pair, stocked, rows, make_user, make_token):
    make_user("alice", "clerk")
    token = make_token("alice", "read")
    spy, fast, slow = pair(ANONYMOUS_ACCESS="none")
    for _ in range(2):
        (status, _, _), answered = same_write(
            spy, fast, slow, rows, {"apple": 1}, headers=bearer(token)
        )
        assert (status, answered) == (403, False)


def test_with_per_token_limits_a_token_write_is_flask_s(
    pair, stocked, make_user, make_token
):
    make_user("alice", "clerk")
    token = make_token("alice", "write")
    spy, fast, _ = pair(ANONYMOUS_ACCESS="none", RATELIMIT_API="2 per minute")
    statuses = [
        patch(fast, "/stock/fast", {"apple": n}, headers=bearer(token)).status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert spy.answered == [False, False, False]


@pytest.mark.parametrize(
    "failure",
    [
        OperationalError("UPDATE", {}, Exception("the database went away")),
        Problem(503, "Database busy", "Busy; try again.", headers={"Retry-After": "1"}),
    ],
)
def test_a_failed_write_is_answered_by_flask_and_not_run_again(
    pair, stocked, rows, monkeypatch, failure
):
    spy, fast, slow = pair(ANONYMOUS_ACCESS="write")
    real = units.update_collection
    calls = []

    def fails_on_its_first_run_per_collection(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        if calls.count(args[0]) == 1:
            raise failure
        return real(*args, **kwargs)

    monkeypatch.setattr(
        units, "update_collection", fails_on_its_first_run_per_collection
    )
    (status, _, _), answered = same_write(spy, fast, slow, rows, {"apple": 5})
    assert not answered
    assert status in {500, 503}
    # Run once each: the shortcut's failure is answered, not run again.
    assert calls == ["slow", "fast"]
    assert stored(rows, "fast")["members"][0] == {"name": "apple", "quantity": 30}


def test_its_answers_are_counted_and_logged(make_app, stocked, capsys):
    app = make_app(ANONYMOUS_ACCESS="write", LOG_FORMAT="json", METRICS_ACCESS="public")
    client = app.test_client()
    capsys.readouterr()
    response = patch(
        client, "/stock/fast", {"apple": 4}, headers={"X-Request-ID": "till-7"}
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "till-7"
    assert_logged_and_counted(
        client, capsys.readouterr().out, "PATCH", "/stock/<collection>", "till-7"
    )


def test_it_sends_the_statements_flask_sends(app, client, stocked, count_statements):
    app.config["ANONYMOUS_ACCESS"] = "write"
    sent = []
    for shortcuts in (request_toll(app).shortcuts, ()):
        request_toll(app).shortcuts = shortcuts
        with count_statements() as statements:
            response = patch(client, "/stock/fast", {"apple": len(sent)})
        assert response.status_code == 200
        sent.append(statements)
    assert sent[0] == sent[1]
    assert len(sent[0]) >= 4


def test_it_writes_with_the_declared_scope(app):
    assert MergePatchShortcut(app).callers.scope == "write"
