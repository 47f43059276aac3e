"""What each backend's connections are given for concurrent workers to be safe.

SQLite's own settings are tested in test_config.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import NullPool

from stockapp import create_app
from stockapp.core.database import engine_options
from stockapp.core.extensions import db

POOL_SETTINGS = {
    "DATABASE_POOL_SIZE": 4,
    "DATABASE_MAX_OVERFLOW": 6,
    "DATABASE_POOL_TIMEOUT": 7,
    "DATABASE_POOL_PRE_PING": True,
}


def test_sqlite_gets_no_pool_settings():
    config = {"SQLALCHEMY_DATABASE_URI": "sqlite:///stock.sqlite", **POOL_SETTINGS}
    assert engine_options(config) == {}


def test_postgresql_gets_the_pool_settings_and_read_committed():
    config = {
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://app@db.internal/stock",
        **POOL_SETTINGS,
    }
    assert engine_options(config) == {
        "pool_size": 4,
        "max_overflow": 6,
        "pool_timeout": 7.0,
        "pool_pre_ping": True,
        "isolation_level": "READ COMMITTED",
    }


def test_explicit_engine_options_win():
    config = {
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://app@db.internal/stock",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 1, "echo": True},
        **POOL_SETTINGS,
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
    server = create_engine(database_url, poolclass=NullPool)
    with server.connect() as connection:
        ended = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    server.dispose()
    assert ended == 1
    response = client.get("/stock")
    assert response.status_code == 200
    assert response.get_json() == {"fruit": {"apple": 1}}
