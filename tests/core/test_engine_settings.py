"""What each backend's connections are given for concurrent workers to be safe,
for their waits to end in time, and for a pooler in front.

SQLite's own settings are tested in test_config.py.
"""

from __future__ import annotations

import pytest
from helpers import end_other_sessions
from sqlalchemy import create_engine, text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import NullPool

from stockapp import create_app
from stockapp.core.database import engine_options
from stockapp.core.extensions import db

POSTGRESQL = "postgresql+psycopg://app@db.internal/stock"
SETTINGS = {
    "GUNICORN_TIMEOUT": 30,
    "SQLITE_BUSY_TIMEOUT_MS": 10_000,
    "DATABASE_POOL_SIZE": 4,
    "DATABASE_MAX_OVERFLOW": 6,
    "DATABASE_POOL_TIMEOUT": 7,
    "DATABASE_POOL_PRE_PING": True,
    "DATABASE_CONNECT_TIMEOUT": 3,
    "DATABASE_LOCK_TIMEOUT_MS": 4_000,
    "DATABASE_STATEMENT_TIMEOUT_MS": 15_000,
    "DATABASE_PREPARED_STATEMENTS": "on",
}
TIMEOUTS = "-c lock_timeout=4000 -c statement_timeout=15000"


def test_sqlite_gets_no_pool_settings():
    config = {"SQLALCHEMY_DATABASE_URI": "sqlite:///stock.sqlite", **SETTINGS}
    assert engine_options(config) == {}


def test_postgresql_gets_the_pool_settings_read_committed_and_the_timeouts():
    config = {"SQLALCHEMY_DATABASE_URI": POSTGRESQL, **SETTINGS}
    assert engine_options(config) == {
        "pool_size": 4,
        "max_overflow": 6,
        "pool_timeout": 7.0,
        "pool_pre_ping": True,
        "isolation_level": "READ COMMITTED",
        "connect_args": {"options": TIMEOUTS, "connect_timeout": 3},
    }


def test_options_in_the_url_are_kept_before_the_timeouts():
    url = f"{POSTGRESQL}?options=-c%20search_path%3Dstock"
    config = {**SETTINGS, "SQLALCHEMY_DATABASE_URI": url}
    options = engine_options(config)["connect_args"]["options"]
    assert options == f"-c search_path=stock {TIMEOUTS}"


def test_prepared_statements_off_tells_psycopg_never_to_prepare():
    config = {
        **SETTINGS,
        "SQLALCHEMY_DATABASE_URI": POSTGRESQL,
        "DATABASE_PREPARED_STATEMENTS": "off",
    }
    assert engine_options(config)["connect_args"]["prepare_threshold"] is None


def test_prepared_statements_takes_on_or_off():
    config = {
        **SETTINGS,
        "SQLALCHEMY_DATABASE_URI": POSTGRESQL,
        "DATABASE_PREPARED_STATEMENTS": "no",
    }
    with pytest.raises(RuntimeError) as refused:
        engine_options(config)
    assert str(refused.value) == "DATABASE_PREPARED_STATEMENTS must be one of on, off"


def test_explicit_engine_options_win():
    config = {
        "SQLALCHEMY_DATABASE_URI": POSTGRESQL,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 1, "echo": True},
        **SETTINGS,
    }
    options = engine_options(config)
    assert (options["pool_size"], options["echo"], options["max_overflow"]) == (
        1,
        True,
        6,
    )


@pytest.mark.postgresql_only
def test_postgresql_transactions_read_committed_whatever_the_server_default(
    database_url,
):
    # A server whose default would make a waiting writer miss what was committed.
    server = create_engine(database_url, poolclass=NullPool)
    with server.connect() as connection:
        name = connection.execute(text("SELECT current_database()")).scalar_one()
        default = "default_transaction_isolation = 'serializable'"
        connection.execute(text(f"ALTER DATABASE {name} SET {default}"))
        connection.commit()
    server.dispose()
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        level = db.session.execute(text("SHOW transaction_isolation")).scalar_one()
        db.session.remove()
        db.engine.dispose()
    assert level == "read committed"


@pytest.mark.postgresql_only
def test_postgresql_pool_holds_at_most_size_plus_overflow(database_url):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "DATABASE_POOL_SIZE": 1,
            "DATABASE_MAX_OVERFLOW": 1,
            "DATABASE_POOL_TIMEOUT": 0.1,
        }
    )
    with app.app_context():
        engine = db.engine
    first, second = engine.connect(), engine.connect()
    try:
        with pytest.raises(PoolTimeout):
            engine.connect()
    finally:
        first.close()
        second.close()
        engine.dispose()


@pytest.mark.postgresql_only
def test_postgresql_connection_closed_by_the_server_is_replaced(
    client, seed, database_url
):
    seed(fruit={"apple": 1})
    # A server restart or an idle timeout ends the pooled connection's session.
    assert end_other_sessions(database_url) == 1
    response = client.get("/stock")
    assert response.status_code == 200
    assert response.get_json() == {"fruit": {"apple": 1}}


@pytest.mark.postgresql_only
@pytest.mark.parametrize(("prepared", "threshold"), [("on", 5), ("off", None)])
def test_postgresql_sessions_get_the_timeouts_and_the_prepare_threshold(
    make_app, prepared, threshold
):
    app = make_app(
        DATABASE_LOCK_TIMEOUT_MS=1_500,
        DATABASE_STATEMENT_TIMEOUT_MS=2_500,
        DATABASE_PREPARED_STATEMENTS=prepared,
    )
    with app.app_context():
        with db.engine.connect() as connection:
            lock = connection.execute(text("SHOW lock_timeout")).scalar_one()
            statement = connection.execute(text("SHOW statement_timeout")).scalar_one()
            dbapi_connection = connection.connection.dbapi_connection
            assert dbapi_connection.prepare_threshold == threshold
    assert (lock, statement) == ("1500ms", "2500ms")
