"""Every error is problem+json: routing, methods, crashes and an unmigrated database."""

import pytest
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

    monkeypatch.setattr("stockapp.stock.units._apply_changes", explode)
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


@pytest.mark.sqlite_only
def test_write_lock_held_past_the_busy_timeout_is_a_503(database_url, stored):
    import sqlite3

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "SQLITE_BUSY_TIMEOUT_MS": 50}
    )
    holder = sqlite3.connect(database_url.removeprefix("sqlite:///"))
    holder.isolation_level = None
    holder.execute("BEGIN IMMEDIATE")
    try:
        response = app.test_client().post("/stock/fruit", json={"apple": 1})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503
    assert response.get_json() == {
        **BUSY,
        "request_id": response.headers["X-Request-ID"],
    }
    assert stored() == {}
    with app.app_context():
        db.engine.dispose()
