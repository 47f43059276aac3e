"""/healthz (the process) and /readyz (the database, migrated to head)."""

from __future__ import annotations

import flask_migrate
import pytest
from helpers import migrations_head

from stockapp import create_app
from stockapp.core.extensions import db

HEAD = migrations_head()


@pytest.fixture
def make(make_app):
    """An app closed to anonymous callers (the probes need no credentials)."""
    return lambda url=None: (
        make_app(ANONYMOUS_ACCESS="none")
        if url is None
        else create_app({"SQLALCHEMY_DATABASE_URI": url, "ANONYMOUS_ACCESS": "none"})
    )


def test_healthz_answers_without_asking_the_database(client, count_statements):
    with count_statements() as statements:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert statements == []


def test_readyz_answers_ready_with_one_statement(client, count_statements):
    with count_statements() as statements:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "database": HEAD}
    # (PostgreSQL's connection also sends its BEGIN.)
    assert [sql for sql in statements if sql != "BEGIN"] == [
        "SELECT version_num FROM alembic_version"
    ]


def test_readyz_names_an_unmigrated_database(make, empty_database_url):
    app = make(empty_database_url)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": f"The database schema is at nothing, this code needs {HEAD}:"
        " run `flask db upgrade`.",
        "error": "Database not migrated",
        "request_id": response.headers["X-Request-ID"],
    }
    with app.app_context():
        db.engine.dispose()


def test_readyz_names_a_database_behind_the_code(make, empty_database_url):
    app = make(empty_database_url)
    with app.app_context():
        flask_migrate.upgrade(revision="0005")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["detail"] == (
        f"The database schema is at 0005, this code needs {HEAD}: run `flask db"
        " upgrade`."
    )
    with app.app_context():
        flask_migrate.upgrade()
    assert app.test_client().get("/readyz").status_code == 200
    with app.app_context():
        db.engine.dispose()


@pytest.mark.sqlite_only
def test_readyz_says_the_database_is_unavailable_and_healthz_still_answers(
    make, tmp_path
):
    # A SQLite file in a directory that does not exist cannot be opened.
    app = make(f"sqlite:///{tmp_path}/missing/stock.sqlite")
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["error"] == "Database unavailable"
    assert response.get_json()["detail"] == (
        "The database does not answer; see the server's log."
    )
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_the_probes_need_no_credentials(make):
    client = make().test_client()
    assert client.get("/stock").status_code == 401
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_the_probes_are_in_the_api_document_and_public(client):
    document = client.get("/openapi.json").get_json()
    for path in ("/healthz", "/readyz"):
        operation = document["paths"][path]["get"]
        assert operation["security"] == []
        assert operation["tags"] == ["operations"]
    assert "503" in document["paths"]["/readyz"]["get"]["responses"]
