"""Fixtures: each test gets its own app over its own migrated database.

The backend comes from ``STOCKAPP_TEST_DATABASE_URL``: unset, each database is a
SQLite file under ``tmp_path``; set to the URL of a PostgreSQL server where that
user may CREATE DATABASE (``postgresql+psycopg://user:pass@host/postgres``), each
is a database created there from a template migrated once, and dropped after.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import flask_migrate
import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from gunicorn_server import Server
from helpers import PASSWORD, csrf_token_of
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.pool import NullPool, Pool

from stockapp import create_app
from stockapp.core.database import begin_sqlite_transaction
from stockapp.core.extensions import db

# Every app built in the tests uses the testing settings.
os.environ["STOCKAPP_CONFIG"] = "testing"

SERVER_URL = os.environ.get("STOCKAPP_TEST_DATABASE_URL") or None
BACKEND = make_url(SERVER_URL).get_backend_name() if SERVER_URL else "sqlite"
if BACKEND not in ("sqlite", "postgresql"):
    raise pytest.UsageError("STOCKAPP_TEST_DATABASE_URL must be a PostgreSQL URL")

# Tests of behaviour that only one backend has; elsewhere they are skipped.
_ONLY_MARKERS = {"sqlite_only": "sqlite", "postgresql_only": "postgresql"}


def pytest_report_header() -> str:
    where = make_url(SERVER_URL).render_as_string() if SERVER_URL else "tmp_path"
    return f"database backend: {BACKEND} ({where})"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for marker, backend in _ONLY_MARKERS.items():
            if backend != BACKEND and item.get_closest_marker(marker):
                item.add_marker(
                    pytest.mark.skip(
                        reason=f"{backend}-only behaviour; this run uses {BACKEND}"
                    )
                )


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class SQLiteDatabases:
    """Databases as files under the test's ``tmp_path``."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.template = tmp_path_factory.mktemp("template") / "stock.sqlite"

    def create(self, tmp_path: Path, *, migrated: bool) -> str:
        path = tmp_path / f"{uuid.uuid4().hex[:8]}.sqlite"
        if migrated:
            shutil.copyfile(self.template, path)
        return sqlite_url(path)

    def drop(self, url: str) -> None:
        """Nothing: pytest removes ``tmp_path``."""

    def drop_template(self) -> None:
        """Nothing: pytest removes the template's directory."""

    @property
    def template_url(self) -> str:
        return sqlite_url(self.template)


class PostgreSQLDatabases:
    """Databases on the server at ``SERVER_URL``, each with a unique name."""

    def __init__(self, server_url: str) -> None:
        self.server_url = make_url(server_url)
        self.server: Engine = create_engine(
            self.server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        # Every connection the tests open, so that drop() can close those a test
        # left in the pool of an app of its own.
        self.opened: weakref.WeakSet[Any] = weakref.WeakSet()
        event.listen(Pool, "connect", self._opened)
        self.template = self._name("template")
        # template0: the server's template1 may hold objects of its own.
        self._execute(f"CREATE DATABASE {self.template} TEMPLATE template0")
        # Copying the files of a small template is ten times faster than the
        # default (WAL_LOG) of PostgreSQL 15 and later.
        version = self.server.dialect.server_version_info or (0,)
        self.strategy = " STRATEGY FILE_COPY" if version >= (15,) else ""

    def create(self, tmp_path: Path, *, migrated: bool) -> str:
        name = self._name("test")
        template = self.template if migrated else "template0"
        self._execute(f"CREATE DATABASE {name} TEMPLATE {template}{self.strategy}")
        return self._url(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        for connection in list(self.opened):
            if not connection.closed and connection.info.dbname == name:
                connection.close()
        # FORCE ends the sessions of other processes too (a gunicorn worker).
        self._execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def drop_template(self) -> None:
        self.drop(self.template_url)
        self.server.dispose()
        event.remove(Pool, "connect", self._opened)

    def _opened(self, connection: Any, _record: Any) -> None:
        # Only this server's connections (a test may open a SQLite app too).
        if isinstance(connection, psycopg.Connection):
            self.opened.add(connection)

    @property
    def template_url(self) -> str:
        return self._url(self.template)

    def _url(self, name: str) -> str:
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    def _execute(self, statement: str) -> None:
        with self.server.connect() as connection:
            connection.execute(text(statement))

    @staticmethod
    def _name(kind: str) -> str:
        # Unique on a shared server, so that several runs can use it at once.
        return f"stockapp_{kind}_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def backend() -> str:
    """The database backend of this run: ``sqlite`` or ``postgresql``."""
    return BACKEND


@pytest.fixture(scope="session")
def databases(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SQLiteDatabases | PostgreSQLDatabases]:
    """Creates each test's database, from a template migrated to head once."""
    if SERVER_URL:
        databases: SQLiteDatabases | PostgreSQLDatabases = PostgreSQLDatabases(
            SERVER_URL
        )
    else:
        databases = SQLiteDatabases(tmp_path_factory)
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": databases.template_url})
        with app.app_context():
            flask_migrate.upgrade()
            db.engine.dispose()
        yield databases
    finally:
        databases.drop_template()


@pytest.fixture
def database_url(tmp_path: Path, databases) -> Iterator[str]:
    """The URL of this test's own database, migrated to head."""
    url = databases.create(tmp_path, migrated=True)
    yield url
    databases.drop(url)


@pytest.fixture
def empty_database_url(tmp_path: Path, databases) -> Iterator[str]:
    """The URL of a database of this test's own with no tables at all."""
    url = databases.create(tmp_path, migrated=False)
    yield url
    databases.drop(url)


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

        def record_begin(conn):
            statements.append("BEGIN")

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        # SQLite's BEGIN goes through a cursor (stockapp/database.py sends it);
        # psycopg sends its own, unseen by that event, so it is recorded here.
        sends_own_begin = engine.dialect.name != "sqlite"
        if sends_own_begin:
            event.listen(engine, "begin", record_begin)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", record)
            if sends_own_begin:
                event.remove(engine, "begin", record_begin)

    return counting


@pytest.fixture
def rival(app: Flask) -> Iterator[Connection]:
    """Another writer's connection; its first statement begins its transaction,
    which on SQLite takes the write lock."""
    with app.app_context():
        engine = db.engine
    connection = engine.connect()
    if connection.dialect.name == "sqlite":
        event.listen(
            connection, "begin", lambda c: begin_sqlite_transaction(c, write=True)
        )
    yield connection
    connection.close()


@pytest.fixture
def wait_for_lock_waiters():
    """Wait until ``count`` sessions on the database at ``url`` wait for a lock.

    SQLite cannot tell who waits for its write lock; there this sleeps ``settle``
    seconds instead, and the test checks the outcome only.
    """

    def wait(url: str, count: int, *, settle: float = 0.3) -> None:
        if BACKEND == "sqlite":
            time.sleep(settle)
            return
        engine = create_engine(url, poolclass=NullPool)
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        deadline = time.monotonic() + 30
        try:
            while True:
                with engine.connect() as connection:
                    if connection.execute(query).scalar_one() >= count:
                        return
                if time.monotonic() > deadline:
                    pytest.fail(f"fewer than {count} sessions ever waited for a lock")
                time.sleep(0.02)
        finally:
            engine.dispose()

    return wait


@pytest.fixture
def submit(client: FlaskClient):
    """Post a form as a browser does: with the CSRF token the log-in page gives."""

    def post(url: str, data: dict[str, str], **kwargs: Any):
        token = csrf_token_of(client.get("/log-in").get_data(as_text=True))
        return client.post(url, data={**data, "csrf_token": token}, **kwargs)

    return post


# --- Access control: users, tokens and sessions (tests/test_access_*.py,
# test_tokens_api.py, test_sessions.py, test_security_headers.py,
# test_rate_limits.py) ------------------------------------------------------

# (Imported here, not at the top, so that this block stays in one piece.)
from stockapp.access import accounts  # noqa: E402
from stockapp.access.validation import TokenRequest  # noqa: E402


@pytest.fixture
def make_app(database_url: str):
    """Another app over this test's database: ``make_app(ANONYMOUS_ACCESS="none")``."""
    made: list[Flask] = []

    def make(**config: Any) -> Flask:
        app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, **config})
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def make_user(app: Flask):
    """Store a user (Argon2id: about 50 ms each): ``make_user("alice", "clerk")``."""

    def make(name: str, role: str = "clerk", password: str = PASSWORD) -> None:
        with app.app_context():
            accounts.create_user(name, role, password)

    return make


@pytest.fixture
def make_token(app: Flask):
    """Give user ``name`` a token and return its secret."""

    def make(
        name: str,
        scope: str,
        collections: list[str] | None = None,
        expires_in_days: int | None = None,
        label: str = "test",
    ) -> str:
        limited = None if collections is None else tuple(collections)
        request = TokenRequest(label, scope, expires_in_days, limited)
        with app.app_context():
            return accounts.create_token(request, name).secret

    return make


@pytest.fixture
def rows(app: Flask):
    """Run raw SQL straight on the tables, committed; the rows it returns, as dicts."""

    def read(query: str, **params: Any) -> list[dict[str, Any]]:
        with app.app_context():
            result = db.session.execute(text(query), params)
            found = (
                [dict(row) for row in result.mappings()] if result.returns_rows else []
            )
            db.session.commit()
        return found

    return read


# --- End of access control ------------------------------------------------


# Browser tests (tests/browser.py) ----------------------------------------------


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium from Debian's packages, driven by Playwright."""
    from browser import chromium_path
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def site(database_url: str, make_user, tmp_path: Path) -> Iterator[Server]:
    """stockapp under gunicorn on loopback, closed to anonymous callers, with the
    users ``admin``, ``clerk`` and ``viewer`` (each of that role, PASSWORD)."""
    for role in ("admin", "clerk", "viewer"):
        make_user(role, role)
    server = Server(
        database_url,
        tmp_path / "gunicorn.log",
        workers=2,
        env={"ANONYMOUS_ACCESS": "none"},
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def page(chromium, site: Server):
    """A fresh browser tab (its own cookies) at laptop width, on ``site``."""
    context = chromium.new_context(
        base_url=f"http://127.0.0.1:{site.port}",
        viewport={"width": 1280, "height": 800},
    )
    tab = context.new_page()
    yield tab
    context.close()
