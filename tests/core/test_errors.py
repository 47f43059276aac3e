"""Every error is problem+json: routing, methods, crashes, and a database that is
not migrated, busy past its timeouts, or out of reach."""

import sqlite3
import time
from contextlib import contextmanager

import psycopg
import pytest
from helpers import end_other_sessions, libpq_url
from sqlalchemy import text

from stockapp import create_app
from stockapp.core.extensions import db


def test_unknown_route_is_a_problem(client):
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "The requested URL was not found on the server. If you entered the"
        " URL manually please check your spelling and try again.",
        "error": "Not found",
    }


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/stock", {"GET", "HEAD", "OPTIONS"}),
        ("POST", "/stock/fruit/apple", {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}),
        ("DELETE", "/get-text", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_wrong_method_is_a_problem_with_allow(client, method, path, allowed):
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert response.content_type == "application/problem+json"
    assert set(response.headers["Allow"].split(", ")) == allowed
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Method Not Allowed",
        "status": 405,
        "detail": "The method is not allowed for the requested URL.",
        "error": "Method not allowed",
    }


def test_unexpected_exception_is_a_500_problem_without_traceback(
    app, client, stored, monkeypatch
):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("stockapp.stock.units.apply_changes", explode)
    response = client.post("/stock/fruit", json={"apple": 1})
    assert response.status_code == 500
    assert response.content_type == "application/problem+json"
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "The server failed to answer; nothing was stored.",
        "error": "Internal server error",
        "request_id": response.headers["X-Request-ID"],
    }
    assert b"secret internals" not in response.data
    assert b"Traceback" not in response.data
    # The collection row inserted before the crash was rolled back with it.
    assert stored() == {}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/stock", None),
        ("GET", "/stock/fruit", None),
        ("POST", "/stock/fruit", {"apple": 1}),
        ("PUT", "/stock/fruit/apple", 1),
    ],
)
def test_unmigrated_database_answers_503(empty_database_url, method, path, body):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url})
    response = app.test_client().open(path, method=method, json=body)
    with app.app_context():
        db.engine.dispose()
    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "The database schema is missing or out of date:"
        " run `flask db upgrade`.",
        "error": "Database not migrated",
        "request_id": response.headers["X-Request-ID"],
    }


def test_database_with_a_missing_column_answers_503(app, client):
    with app.app_context():
        db.session.execute(text("ALTER TABLE members RENAME COLUMN quantity TO qty"))
        db.session.commit()
    response = client.get("/stock")
    assert response.status_code == 503
    assert response.get_json()["error"] == "Database not migrated"


BUSY = {
    "type": "about:blank",
    "title": "Service Unavailable",
    "status": 503,
    "detail": "The database is busy; nothing was stored. Try again.",
    "error": "Database busy",
}

UNAVAILABLE = {
    "type": "about:blank",
    "title": "Service Unavailable",
    "status": 503,
    "detail": "The database does not answer; nothing was stored. Try again.",
    "error": "Database unavailable",
}


def test_exhausted_connection_pool_is_a_503_to_retry(client, monkeypatch):
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError

    def exhausted(*args, **kwargs):
        raise PoolTimeoutError("QueuePool limit of size 2 overflow 3 reached")

    monkeypatch.setattr("stockapp.stock.reads.stock_objects", exhausted)
    response = client.get("/stock")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.get_json() == {
        **BUSY,
        "request_id": response.headers["X-Request-ID"],
    }
    # The API document lists this answer for the operation.
    document = client.get("/openapi.json").get_json()
    answer = document["paths"]["/stock"]["get"]["responses"]["503"]
    assert answer == {"$ref": "#/components/responses/NotMigrated"}
    shared = document["components"]["responses"]["NotMigrated"]
    schema = shared["content"]["application/problem+json"]["schema"]
    assert BUSY["error"] in schema["allOf"][1]["properties"]["error"]["enum"]


@contextmanager
def member_locked(database_url, backend, member):
    """Another session holds ``member``'s row in an open transaction: on SQLite,
    which locks the whole database, its write lock."""
    if backend == "sqlite":
        holder = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        holder.isolation_level = None
        holder.execute("BEGIN IMMEDIATE")
    else:
        holder = psycopg.connect(libpq_url(database_url))
        locked = holder.execute(
            "SELECT quantity FROM members WHERE name = %s FOR UPDATE", (member,)
        ).fetchall()
        assert len(locked) == 1
    try:
        yield
    finally:
        if backend == "sqlite":
            holder.execute("ROLLBACK")
        else:
            holder.rollback()
        holder.close()


# A lock timeout short enough for a test, on each backend.
SHORT_LOCK_TIMEOUT = {"SQLITE_BUSY_TIMEOUT_MS": 200, "DATABASE_LOCK_TIMEOUT_MS": 200}
# Each write of apple (30 before), and the quantity it leaves.
WRITES = [
    ("PATCH", "/stock/fruit", {"apple": 5}, 5),
    ("POST", "/stock/fruit/apple/adjustments", {"delta": 5}, 35),
]


@pytest.mark.parametrize(("method", "path", "body", "after"), WRITES)
def test_a_row_locked_past_the_lock_timeout_is_a_503_to_retry(
    make_app, database_url, backend, stored, caplog, method, path, body, after
):
    client = make_app(**SHORT_LOCK_TIMEOUT).test_client()
    assert client.post("/stock/fruit", json={"apple": 30, "pear": 1}).status_code == 201
    with member_locked(database_url, backend, "apple"):
        started = time.monotonic()
        response = client.open(path, method=method, json=body)
        waited = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.get_json() == {
        **BUSY,
        "request_id": response.headers["X-Request-ID"],
    }
    # It waited for the lock timeout (0.2 s), then answered: far within the
    # worker's timeout, which is what the setting is for.
    assert 0.2 <= waited < 10
    why = {"sqlite": "database is locked", "postgresql": "LockNotAvailable"}
    assert why[backend] in caplog.text
    assert stored() == {"fruit": {"apple": 30, "pear": 1}}
    # Once the lock is gone the same write goes through.
    assert client.open(path, method=method, json=body).status_code == 200
    assert stored() == {"fruit": {"apple": after, "pear": 1}}


@pytest.mark.postgresql_only
def test_a_statement_running_past_the_statement_timeout_is_a_503_to_retry(
    make_app, database_url, backend, stored, caplog
):
    # The row lock outlasts the statement timeout, which ends the wait first
    # (query_canceled rather than lock_not_available).
    client = make_app(
        DATABASE_LOCK_TIMEOUT_MS=10_000, DATABASE_STATEMENT_TIMEOUT_MS=200
    ).test_client()
    assert client.post("/stock/fruit", json={"apple": 30}).status_code == 201
    with member_locked(database_url, backend, "apple"):
        started = time.monotonic()
        response = client.patch("/stock/fruit", json={"apple": 5})
        waited = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.get_json() == {
        **BUSY,
        "request_id": response.headers["X-Request-ID"],
    }
    # It waited for the lock timeout (0.2 s), then answered: far within the
    # worker's timeout, which is what the setting is for.
    assert 0.2 <= waited < 10
    assert "QueryCanceled" in caplog.text
    assert stored() == {"fruit": {"apple": 30}}


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/stock", None), ("PUT", "/stock/fruit/apple", 1)],
)
def test_a_database_that_cannot_be_opened_is_a_503_unavailable(
    make_app, tmp_path, method, path, body
):
    # A SQLite file in a directory that does not exist cannot be opened.
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/gone/stock.sqlite")
    response = app.test_client().open(path, method=method, json=body)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json() == {
        **UNAVAILABLE,
        "request_id": response.headers["X-Request-ID"],
    }


@pytest.mark.postgresql_only
@pytest.mark.parametrize(
    ("method", "path", "body", "status", "after"),
    [
        # A streamed read (Core), a read on the driver's cursor, a write.
        ("GET", "/stock", None, 200, {"fruit": {"apple": 1}}),
        ("GET", "/stock/fruit/apple", None, 200, {"fruit": {"apple": 1}}),
        ("PUT", "/stock/fruit/apple", 5, 200, {"fruit": {"apple": 5}}),
        ("POST", "/stock/fruit/apple/adjustments", {"delta": 2}, 200, None),
    ],
)
def test_a_connection_the_server_ended_is_replaced_and_the_request_runs_once_more(
    make_app, database_url, method, path, body, status, after
):
    # No pre-ping (the default): the request meets the pooled connection's end.
    app = make_app(STOCK_CACHE_BYTES=0)
    client = app.test_client()
    assert client.post("/stock/fruit", json={"apple": 1}).status_code == 201
    assert client.get("/stock").status_code == 200
    assert end_other_sessions(database_url) >= 1
    response = client.open(path, method=method, json=body)
    assert response.status_code == status, response.get_data(as_text=True)
    # Run once, not twice: the adjustment is applied once.
    expected = after or {"fruit": {"apple": 3}}
    assert client.get("/stock").get_json() == expected
