"""The writes' shortcuts (stock/write_shortcut.py), the merge patch's and the
member PUT's, answer and store exactly what Flask does, and only when they are
certain; every other request is Flask's.

Each comparison sends the same write to two collections stocked alike, "fast"
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
from stockapp.stock.write_shortcut import (
    MAX_BODY,
    MergePatchShortcut,
    PutMemberShortcut,
)

MERGE_PATCH = "application/merge-patch+json"
JSON = "application/json"
STOCK = {"apple": 30, "pear": 2}

# (shortcut, its unit of work in units, method, path of fast's, a body)
KINDS = [
    pytest.param(
        MergePatchShortcut, "update_collection", "PATCH", "/stock/fast", {"apple": 5},
        id="merge-patch",
    ),
    pytest.param(
        PutMemberShortcut, "put_member", "PUT", "/stock/fast/apple", 5, id="put",
    ),
]  # fmt: skip


@pytest.fixture
def pair(shortcut_pair):
    """``pair(**config)`` -> (spy, with, without): the merge patch's shortcut."""
    return lambda **config: shortcut_pair(MergePatchShortcut, **config)


@pytest.fixture
def stocked(seed):
    seed(fast=STOCK, slow=STOCK)


def send(
    client, method: str, path: str, body: Any = None, raw: Any = None, **kwargs: Any
):
    """Send ``body`` as JSON (or ``raw`` as it is): a PATCH as a merge patch,
    a PUT as JSON, unless ``content_type`` says otherwise."""
    kwargs.setdefault("content_type", MERGE_PATCH if method == "PATCH" else JSON)
    data = json.dumps(body) if raw is None else raw
    return client.open(path, method=method, data=data, **kwargs)


def patch(client, path: str, body: Any = None, raw: Any = None, **kwargs: Any):
    return send(client, "PATCH", path, body, raw, **kwargs)


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


def tagged(rows, collection: str, member: str | None) -> str:
    """The stored version a write's ETag gives: the collection's, or the
    member's."""
    if member is None:
        (row,) = rows("SELECT version FROM collections WHERE name = :c", c=collection)
    else:
        (row,) = rows(
            "SELECT members.version FROM members JOIN collections"
            " ON collections.id = members.collection_id"
            " WHERE collections.name = :c AND members.name = :m",
            c=collection,
            m=member,
        )
    return str(row["version"])


def in_general(got: tuple, collection: str, version: str) -> tuple:
    """An answer with its collection's name and the version it tags (checked
    against the stored one) put as placeholders, to compare two collections'
    answers."""
    status, headers, body = got
    general = []
    for name, value in headers:
        if name == "ETag":
            assert value == f'"{version}"'
            value = "<version>"
        elif name == "Location":
            assert value.partition(f"/stock/{collection}")[0] == ""
            value = value.replace(f"/stock/{collection}", "/stock/<collection>", 1)
        general.append((name, value))
    return status, general, body


def _unnamed(got: tuple, collection: str, rows) -> tuple:
    """An error with its collection's name and the versions of the collection
    and its members (which it may name) put as placeholders, and its length
    checked."""
    status, headers, body = got
    assert dict(headers)["Content-Length"] == str(len(body))
    headers = [(k, "<length>" if k == "Content-Length" else v) for k, v in headers]
    body = body.replace(collection.encode(), b"<collection>")
    versions = rows(
        "SELECT version FROM collections WHERE name = :c UNION ALL"
        " SELECT members.version FROM members JOIN collections"
        " ON collections.id = members.collection_id WHERE collections.name = :c",
        c=collection,
    )
    for row in versions:
        body = body.replace(str(row["version"]).encode(), b"<version>")
    return status, headers, body


def answer_headers(*, created: bool) -> list[str]:
    """The header names of an anonymous write's answer, in Flask's order."""
    return [
        "Content-Type",
        "Content-Length",
        "ETag",
        *(["Location"] if created else []),
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Content-Security-Policy",
        "Vary",
    ]


def same_write(
    spy,
    fast,
    slow,
    rows,
    body: Any = None,
    method: str = "PATCH",
    member: str | None = None,
    **kwargs: Any,
):
    """The same write (a PATCH of the collection, or a PUT of its ``member``)
    to "fast" by the shortcut's app and to "slow" by Flask's: assert the same
    answer and the same stored state; return the answer and whether the
    shortcut gave it."""
    collections = kwargs.pop("collections", ("fast", "slow"))
    tail = "" if member is None else f"/{member}"
    # One request id for both: an error's body names it.
    kwargs["headers"] = {"X-Request-ID": "same-write", **kwargs.get("headers", {})}
    flask_response = send(
        slow, method, f"/stock/{collections[1]}{tail}", body, **kwargs
    )
    spy.answered.clear()
    shortcut_response = send(
        fast, method, f"/stock/{collections[0]}{tail}", body, **kwargs
    )
    # The status line, word for word ("201 CREATED").
    assert shortcut_response.status == flask_response.status
    by_flask, by_shortcut = answer(flask_response), answer(shortcut_response)
    fast_state, slow_state = (stored(rows, name) for name in collections)
    if by_flask[0] < 300:
        tags = [tagged(rows, name, member) for name in collections]
        assert in_general(by_shortcut, collections[0], tags[0]) == in_general(
            by_flask, collections[1], tags[1]
        )
    else:
        # An error may name the collection.
        assert _unnamed(by_shortcut, collections[0], rows) == _unnamed(
            by_flask, collections[1], rows
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
    assert [name for name, _ in headers] == answer_headers(created=False)
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


# What makes any write Flask's, whatever its body: a precondition, an
# idempotency key, a query, a body not declared JSON.
_ANY_WRITE_DECLINED = [
    ({"headers": {"If-Match": "*"}}, 200),
    ({"headers": {"If-Match": '"1"'}}, 412),
    ({"headers": {"If-None-Match": "*"}}, 412),
    ({"headers": {"Idempotency-Key": "k-1"}}, 200),
    ({"query_string": {"x": "1"}}, 200),
    ({"content_type": "text/plain"}, 415),
]
_DECLINED = [
    *_ANY_WRITE_DECLINED,
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


_MERGE = (MergePatchShortcut, "PATCH", {"apple": 3})
_PUT = (PutMemberShortcut, "PUT", 3)


@pytest.mark.parametrize(
    ("kind", "method", "body", "path", "status"),
    [
        (*_MERGE, "/stock/%20", 400),
        (*_MERGE, "/stock/..", 400),
        (*_MERGE, "/stock/caf%C3%A9", 201),
        (*_MERGE, "/stock/fast/apple", 405),
        (*_MERGE, "/stock/fast/", 404),
        (*_PUT, "/stock/fast/%20", 400),
        (*_PUT, "/stock/fast/..", 400),
        (*_PUT, "/stock/fast/caf%C3%A9", 201),
        # A member may be named so: its PUT is Flask's.
        (*_PUT, "/stock/fast/history", 201),
        (*_PUT, "/stock/fast/apple/", 404),
        (*_PUT, "/stock/fast", 400),
    ],
)
def test_other_paths_are_flask_s(
    shortcut_pair, stocked, kind, method, body, path, status
):
    spy, fast, _ = shortcut_pair(kind, ANONYMOUS_ACCESS="write")
    assert send(fast, method, path, body).status_code == status
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


@pytest.mark.parametrize(("kind", "unit", "method", "path", "body"), KINDS)
def test_with_per_token_limits_a_token_write_is_flask_s(
    shortcut_pair, stocked, make_user, make_token, kind, unit, method, path, body
):
    make_user("alice", "clerk")
    token = make_token("alice", "write")
    spy, fast, _ = shortcut_pair(
        kind, ANONYMOUS_ACCESS="none", RATELIMIT_API="2 per minute"
    )
    statuses = [
        send(fast, method, path, body, headers=bearer(token)).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    assert spy.answered == [False, False, False]


# The member PUT's shortcut ----------------------------------------------------


@pytest.fixture
def put_pair(shortcut_pair):
    """``put_pair(**config)`` -> (spy, with, without): the member PUT's shortcut."""
    return lambda **config: shortcut_pair(PutMemberShortcut, **config)


def same_put(spy, fast, slow, rows, body: Any, member: str = "apple", **kwargs):
    return same_write(
        spy, fast, slow, rows, body, method="PUT", member=member, **kwargs
    )


@pytest.mark.parametrize(
    ("member", "quantity", "status", "message"),
    [
        ("apple", 12, 200, b'{"message":"Member replaced"}\n'),
        ("apple", 30, 200, b'{"message":"Member replaced"}\n'),
        ("apple", 0, 200, b'{"message":"Member replaced"}\n'),
        ("kiwi", 5, 201, b'{"message":"Member created"}\n'),
    ],
)
def test_an_anonymous_put_is_the_shortcut_s_and_the_same(
    put_pair, stocked, rows, member, quantity, status, message
):
    spy, fast, slow = put_pair(ANONYMOUS_ACCESS="write")
    (got, headers, body), answered = same_put(
        spy, fast, slow, rows, quantity, member=member
    )
    assert answered
    assert (got, body) == (status, message)
    assert [name for name, _ in headers] == answer_headers(created=status == 201)
    if status == 201:
        assert dict(headers)["Location"] == "/stock/fast/kiwi"
    expected = {**STOCK, member: quantity}
    assert {
        row["name"]: row["quantity"] for row in stored(rows, "fast")["members"]
    } == expected
    if quantity != STOCK.get(member):
        assert stored(rows, "fast")["log"][-1] == {
            "member": member,
            "kind": "replace",
            "before": STOCK.get(member),
            "after": quantity,
            "reason": None,
            "by": None,
        }


def test_a_put_in_a_missing_collection_is_answered_by_flask(put_pair, stocked, rows):
    spy, fast, slow = put_pair(ANONYMOUS_ACCESS="write")
    (status, _, body), answered = same_put(
        spy, fast, slow, rows, 1, collections=("gone-fast", "gone-slow")
    )
    assert (status, answered) == (404, False)
    assert json.loads(body)["error"] == "Collection not found"
    assert stored(rows, "gone-fast")["members"] == []


def test_a_token_put_is_the_shortcut_s_once_its_use_is_recorded(
    put_pair, stocked, rows, make_user, make_token
):
    make_user("alice", "clerk")
    token = make_token("alice", "write", collections=["fast", "slow"])
    spy, fast, slow = put_pair(ANONYMOUS_ACCESS="none")
    # The first use is written (last_used_at): Flask's.
    first = send(fast, "PUT", "/stock/fast/apple", 29, headers=bearer(token))
    assert first.status_code == 200
    assert spy.answered == [False]
    send(slow, "PUT", "/stock/slow/apple", 29, headers=bearer(token))
    (status, headers, _), answered = same_put(
        spy, fast, slow, rows, 28, headers=bearer(token)
    )
    assert answered and status == 200
    assert dict(headers)["Cache-Control"] == "private, no-cache"
    assert stored(rows, "fast")["log"][-1]["by"] == "alice"
    # Outside the token's collections: Flask's 404, as if it did not exist (a
    # PUT does not create collections).
    (status, _, _), answered = same_put(
        spy, fast, slow, rows, 1, headers=bearer(token),
        collections=("other-fast", "other-slow"),
    )  # fmt: skip
    assert (status, answered) == (404, False)


_PUT_DECLINED = [
    *_ANY_WRITE_DECLINED,
    ({"content_type": MERGE_PATCH}, 200),
    ({"raw": "{"}, 400),
    ({"raw": "1.5"}, 400),
    ({"raw": "3.0"}, 400),
    ({"raw": "-1"}, 400),
    ({"raw": '"3"'}, 400),
    ({"raw": "true"}, 400),
    ({"raw": "null"}, 400),
    ({"raw": "{}"}, 400),
    ({"raw": ""}, 400),
    ({"raw": str(2**63)}, 400),
    ({"raw": "3", "headers": {"Authorization": "Basic eDp5"}}, 401),
    ({"raw": "3", "headers": bearer("stk_" + "A" * 43)}, 401),
]


@pytest.mark.parametrize(("kwargs", "status"), _PUT_DECLINED)
def test_every_other_put_is_flask_s(put_pair, stocked, rows, kwargs, status):
    spy, fast, slow = put_pair(ANONYMOUS_ACCESS="write")
    body = None if "raw" in kwargs else 3
    (got, _, _), answered = same_put(spy, fast, slow, rows, body, **kwargs)
    assert got == status
    assert not answered


def test_a_put_body_over_the_shortcut_s_size_is_flask_s(put_pair, stocked, rows):
    spy, fast, slow = put_pair(ANONYMOUS_ACCESS="write")
    padded = "7" + " " * MAX_BODY
    (status, _, _), answered = same_put(spy, fast, slow, rows, None, raw=padded)
    assert (status, answered) == (200, False)
    assert stored(rows, "fast")["members"][0] == {"name": "apple", "quantity": 7}


@pytest.mark.parametrize("level", ["none", "read"])
def test_an_anonymous_put_not_allowed_is_refused_by_flask(
    put_pair, stocked, rows, level
):
    spy, fast, slow = put_pair(ANONYMOUS_ACCESS=level)
    (status, _, body), answered = same_put(spy, fast, slow, rows, 1)
    assert (status, answered) == (401, False)
    assert json.loads(body)["error"] == "Authentication required"


# What both shortcuts do alike -------------------------------------------------

FAILURES = [
    OperationalError("UPDATE", {}, Exception("the database went away")),
    Problem(503, "Database busy", "Busy; try again.", headers={"Retry-After": "1"}),
]


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize(("kind", "unit", "method", "path", "body"), KINDS)
def test_a_failed_write_is_answered_by_flask_and_not_run_again(
    shortcut_pair, stocked, rows, monkeypatch, failure, kind, unit, method, path, body
):
    spy, fast, slow = shortcut_pair(kind, ANONYMOUS_ACCESS="write")
    real = getattr(units, unit)
    calls = []

    def fails_on_its_first_run_per_collection(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        if calls.count(args[0]) == 1:
            raise failure
        return real(*args, **kwargs)

    monkeypatch.setattr(units, unit, fails_on_its_first_run_per_collection)
    member = "apple" if method == "PUT" else None
    (status, _, _), answered = same_write(
        spy, fast, slow, rows, body, method=method, member=member
    )
    assert not answered
    assert status in {500, 503}
    # Run once each: the shortcut's failure is answered, not run again.
    assert calls == ["slow", "fast"]
    assert stored(rows, "fast")["members"][0] == {"name": "apple", "quantity": 30}


@pytest.mark.parametrize(("kind", "unit", "method", "path", "body"), KINDS)
def test_its_answers_are_counted_and_logged(
    make_app, stocked, capsys, kind, unit, method, path, body
):
    app = make_app(ANONYMOUS_ACCESS="write", LOG_FORMAT="json", METRICS_ACCESS="public")
    client = app.test_client()
    capsys.readouterr()
    response = send(client, method, path, body, headers={"X-Request-ID": "till-7"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "till-7"
    route = {"PATCH": "/stock/<collection>", "PUT": "/stock/<collection>/<member>"}
    assert_logged_and_counted(
        client, capsys.readouterr().out, method, route[method], "till-7"
    )


@pytest.mark.parametrize(("kind", "unit", "method", "path", "body"), KINDS)
def test_it_sends_the_statements_flask_sends(
    app, client, stocked, count_statements, kind, unit, method, path, body
):
    app.config["ANONYMOUS_ACCESS"] = "write"
    sent = []
    for shortcuts in (request_toll(app).shortcuts, ()):
        request_toll(app).shortcuts = shortcuts
        with count_statements() as statements:
            # (A new quantity each time: each run writes.)
            new = {"apple": len(sent) + 1} if method == "PATCH" else len(sent) + 1
            response = send(client, method, path, new)
        assert response.status_code == 200
        sent.append(statements)
    assert sent[0] == sent[1]
    assert len(sent[0]) >= 3


@pytest.mark.parametrize(("kind", "unit", "method", "path", "body"), KINDS)
def test_it_writes_with_the_declared_scope(app, kind, unit, method, path, body):
    assert kind(app).callers.scope == "write"
