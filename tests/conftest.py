"""Fixtures: each test gets its own app over its own migrated SQLite file."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import flask_migrate
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import event, text

from stockapp import create_app
from stockapp.extensions import db

# Every app built in the tests uses the testing settings.
os.environ["STOCKAPP_CONFIG"] = "testing"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file migrated to head once; each test starts from a copy."""
    path = tmp_path_factory.mktemp("template") / "stock.sqlite"
    app = create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url(path)})
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
    return path


@pytest.fixture
def database_url(tmp_path: Path, migrated_template: Path) -> str:
    """The URL of this test's own database, migrated to head."""
    path = tmp_path / "stock.sqlite"
    shutil.copyfile(migrated_template, path)
    return sqlite_url(path)


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def stored(app: Flask):
    """Read the whole stock straight from the tables, bypassing the app's queries."""

    def read() -> dict[str, dict[str, int]]:
        with app.app_context():
            rows = db.session.execute(
                text(
                    "SELECT c.name, m.name, m.quantity FROM collections c"
                    " LEFT JOIN members m ON m.collection_id = c.id"
                    " ORDER BY c.id, m.id"
                )
            ).all()
        stock: dict[str, dict[str, int]] = {}
        for collection, member, quantity in rows:
            stock.setdefault(collection, {})
            if member is not None:
                stock[collection][member] = quantity
        return stock

    return read


@pytest.fixture
def seed(client: FlaskClient):
    """Create collections through the API: ``seed(fruit={"apple": 30})``."""

    def create(**collections: dict[str, int]) -> None:
        for name, members in collections.items():
            response = client.post(f"/stock/{name}", json=members)
            assert response.status_code == 201, response.get_json()

    return create


@pytest.fixture
def count_statements(app: Flask):
    """Count the SQL statements sent while the block runs (an executemany is one)."""

    @contextmanager
    def counting() -> Iterator[list[str]]:
        statements: list[str] = []

        def record(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return counting
