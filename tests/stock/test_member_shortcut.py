"""The member read's shortcut (stock/member_shortcut.py) answers exactly as Flask
does, header for header, and only when it is certain; every other request is
Flask's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import answer, assert_logged_and_counted, bearer
from sqlalchemy import create_engine

from stockapp.stock.member_shortcut import MemberReadShortcut


@pytest.fixture
def pair(shortcut_pair):
    """``pair(**config)`` -> (spy, with, without): the member read's shortcut."""
    return lambda **config: shortcut_pair(MemberReadShortcut, **config)


def same_answer(spy, shortcut_client, flask_client, path: str, **kwargs: Any):
    """GET ``path`` from both apps; assert one answer; return it and whether the
    shortcut gave it."""
    by_flask = answer(flask_client.get(path, **kwargs))
    spy.answered.clear()
    by_shortcut = answer(shortcut_client.get(path, **kwargs))
    assert by_shortcut == by_flask
    return by_shortcut, spy.answered == [True]


@pytest.fixture
def stocked(seed):
    seed(fruit={"apple": 30, "history": 1, "series": 2}, veg={"leek": 4})


def test_an_anonymous_read_is_the_shortcut_s_and_the_same(pair, stocked):
    spy, fast, slow = pair(ANONYMOUS_ACCESS="read")
    (status, headers, body), answered = same_answer(
        spy, fast, slow, "/stock/fruit/apple"
    )
    assert answered
    assert (status, body) == (200, b"30\n")
    assert [name for name, _ in headers] == [
        "ETag",
        "Content-Type",
        "Content-Length",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Content-Security-Policy",
        "Vary",
    ]
    assert dict(headers)["Content-Type"] == "application/json"
    assert dict(headers)["Content-Length"] == "3"


def test_a_token_read_is_the_shortcut_s_once_its_use_is_recorded(
    pair, stocked, make_user, make_token, rows
):
    make_user("alice", "viewer")
    token = make_token("alice", "read")
    spy, fast, slow = pair(ANONYMOUS_ACCESS="none")
    # The first use is written (last_used_at): Flask's.
    assert fast.get("/stock/fruit/apple", headers=bearer(token)).status_code == 200
    assert spy.answered == [False]
    assert rows("SELECT last_used_at FROM api_tokens")[0]["last_used_at"] is not None
    (status, headers, body), answered = same_answer(
        spy, fast, slow, "/stock/fruit/apple", headers=bearer(token)
    )
    assert answered
    assert (status, body) == (200, b"30\n")
    assert dict(headers)["Cache-Control"] == "private, no-cache"


def test_a_limited_token_is_answered_for_its_collections_only(
    pair, stocked, make_user, make_token
):
    make_user("alice", "clerk")
    token = make_token("alice", "read", collections=["veg"])
    spy, fast, slow = pair(ANONYMOUS_ACCESS="read")
    same_answer(spy, fast, slow, "/stock/veg/leek", headers=bearer(token))
    seen, answered = same_answer(
        spy, fast, slow, "/stock/veg/leek", headers=bearer(token)
    )
    assert answered and seen[0] == 200
    # Another collection: 404 as if it did not exist, Flask's.
    unseen, answered = same_answer(
        spy, fast, slow, "/stock/fruit/apple", headers=bearer(token)
    )
    assert not answered
    assert unseen[0] == 404


@pytest.mark.parametrize(
    ("path", "kwargs", "status"),
    [
        ("/stock/fruit/pear", {}, 404),
        ("/stock/nuts/pear", {}, 404),
        ("/stock/fruit/history", {}, 200),  # the collection's history
        ("/stock/fruit/%20", {}, 400),
        ("/stock/fruit/..", {}, 400),
        ("/stock/fruit/apple/", {}, 404),
        ("/stock/fruit/apple?x=1", {}, 200),
        ("/stock/caf%C3%A9/apple", {}, 404),
        ("/stock/fruit/apple", {"headers": {"Authorization": "Basic eDp5"}}, 401),
        ("/stock/fruit/apple", {"headers": {"Authorization": "Bearer nonsense"}}, 401),
        ("/stock/fruit/apple", {"headers": bearer("stk_" + "A" * 43)}, 401),
        ("/stock/fruit/apple", {"data": b"x" * 10}, 200),
        ("/stock/fruit/apple", {"headers": {"If-None-Match": "*"}}, 304),
    ],
)
def test_everything_else_is_flask_s(pair, stocked, path, kwargs, status):
    spy, fast, slow = pair(ANONYMOUS_ACCESS="read")
    (got, _, _), answered = same_answer(spy, fast, slow, path, **kwargs)
    assert got == status
    assert not answered


def test_the_collection_s_series_is_flask_s(pair, stocked):
    # (Its body holds the time it was read: only where it was answered counts.)
    spy, fast, _ = pair(ANONYMOUS_ACCESS="read")
    assert fast.get("/stock/fruit/series").get_json()["collection"] == "fruit"
    assert spy.answered == [False]


def test_a_request_with_a_cookie_is_flask_s(pair, stocked):
    spy, fast, slow = pair(ANONYMOUS_ACCESS="read")
    for client in (fast, slow):
        client.set_cookie("theme", "dark")
    (status, _, body), answered = same_answer(spy, fast, slow, "/stock/fruit/apple")
    assert (status, body) == (200, b"30\n")
    assert not answered


def test_a_head_is_flask_s(pair, stocked):
    spy, fast, slow = pair(ANONYMOUS_ACCESS="read")
    assert answer(fast.head("/stock/fruit/apple")) == answer(
        slow.head("/stock/fruit/apple")
    )
    assert spy.answered == [False]


def test_a_caller_who_may_not_read_is_refused_by_flask(pair, stocked):
    spy, fast, slow = pair(ANONYMOUS_ACCESS="none")
    (status, _, body), answered = same_answer(spy, fast, slow, "/stock/fruit/apple")
    assert not answered
    assert status == 401
    assert json.loads(body)["error"] == "Authentication required"


@pytest.mark.parametrize("why", ["expired", "revoked", "disabled"])
def test_a_token_that_cannot_be_used_is_refused_by_flask(
    pair, stocked, make_user, make_token, rows, why
):
    make_user("alice", "clerk")
    token = make_token("alice", "read")
    spy, fast, slow = pair(ANONYMOUS_ACCESS="read")
    assert fast.get("/stock/fruit/apple", headers=bearer(token)).status_code == 200
    change = {
        "expired": "UPDATE api_tokens SET expires_at = '2000-01-01 00:00:00'",
        "revoked": "UPDATE api_tokens SET revoked_at = last_used_at",
        "disabled": "UPDATE users SET disabled = true",
    }[why]
    rows(change)
    (status, _, body), answered = same_answer(
        spy, fast, slow, "/stock/fruit/apple", headers=bearer(token)
    )
    assert not answered
    assert status == 401
    assert json.loads(body)["error"] == "Invalid token"


def test_with_per_token_limits_a_token_read_is_flask_s(
    pair, stocked, make_user, make_token
):
    make_user("alice", "clerk")
    token = make_token("alice", "read")
    spy, fast, slow = pair(ANONYMOUS_ACCESS="read", RATELIMIT_API="2 per minute")
    statuses = [
        fast.get("/stock/fruit/apple", headers=bearer(token)).status_code
        for _ in range(3)
    ]
    # The third is over the limit: counted, so never the shortcut's.
    assert statuses == [200, 200, 429]
    assert spy.answered == [False, False, False]


def test_on_a_database_error_flask_reads_again(pair, stocked, tmp_path):
    spy, fast, slow = pair(ANONYMOUS_ACCESS="read")
    shortcut = spy.shortcut
    # The same backend, at a database that cannot be opened.
    url = shortcut.engine.url
    missing = (
        str(tmp_path / "missing" / "nothing.db")
        if url.get_backend_name() == "sqlite"
        else "stockapp_no_such_database"
    )
    shortcut.engine = create_engine(url.set(database=missing))
    (status, _, body), answered = same_answer(spy, fast, slow, "/stock/fruit/apple")
    assert not answered
    assert (status, body) == (200, b"30\n")


def test_its_answers_are_counted_and_logged(make_app, stocked, capsys):
    app = make_app(ANONYMOUS_ACCESS="read", LOG_FORMAT="json", METRICS_ACCESS="public")
    client = app.test_client()
    capsys.readouterr()
    response = client.get("/stock/fruit/apple", headers={"X-Request-ID": "scan-42"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "scan-42"
    assert_logged_and_counted(
        client,
        capsys.readouterr().out,
        "GET",
        "/stock/<collection>/<member>",
        "scan-42",
    )


def test_it_reads_with_the_declared_scope(app):
    assert MemberReadShortcut(app).callers.scope == "read"


def test_a_token_read_is_one_statement(
    client, stocked, make_user, make_token, count_statements
):
    make_user("alice", "viewer")
    headers = bearer(make_token("alice", "read"))
    assert client.get("/stock/fruit/apple", headers=headers).status_code == 200
    with count_statements() as statements:
        response = client.get("/stock/fruit/apple", headers=headers)
    assert (response.status_code, response.get_data()) == (200, b"30\n")
    (statement,) = statements
    assert "FROM api_tokens" in statement and "members" in statement


def test_a_refused_anonymous_read_reads_nothing(app, client, stocked, count_statements):
    app.config["ANONYMOUS_ACCESS"] = "none"
    with count_statements() as statements:
        response = client.get("/stock/fruit/apple")
    assert response.status_code == 401
    assert statements == []
