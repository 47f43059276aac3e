"""The migrations build, check and remove the schema on either backend."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.pool import NullPool

from stockapp import create_app
from stockapp.database import MIGRATION_LOCK_KEY
from stockapp.extensions import db

ROOT = Path(__file__).resolve().parent.parent
HEAD = "0001"


def tables_and_revision(url: str) -> tuple[set[str], list[str]]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            revisions = []
            if "alembic_version" in tables:
                revisions = list(
                    connection.execute(text("SELECT version_num FROM alembic_version"))
                    .scalars()
                    .all()
                )
    finally:
        engine.dispose()
    return tables, revisions


def flask_db(url: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``flask db ...`` on the database at ``url`` as a deployment would."""
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi"}
    return subprocess.run(
        [sys.executable, "-m", "flask", "db", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_upgrade_check_and_downgrade_round_trip(empty_database_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url})
    runner = app.test_cli_runner()
    try:
        assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
        assert tables_and_revision(empty_database_url) == (
            {"alembic_version", "collections", "members"},
            [HEAD],
        )
        # The models and the migrated schema agree: nothing to autogenerate.
        assert runner.invoke(args=["db", "check"]).exit_code == 0

        assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
        assert tables_and_revision(empty_database_url) == ({"alembic_version"}, [])

        assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
        assert tables_and_revision(empty_database_url)[1] == [HEAD]
    finally:
        with app.app_context():
            db.engine.dispose()


def test_check_fails_on_a_database_behind_the_models(empty_database_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url})
    try:
        result = app.test_cli_runner().invoke(args=["db", "check"])
        assert result.exit_code != 0
    finally:
        with app.app_context():
            db.engine.dispose()


def hold_migration_lock(url: str, backend: str) -> tuple[Engine, object]:
    """Take the lock `flask db upgrade` takes, on a connection left open."""
    engine = create_engine(url, poolclass=NullPool)
    connection = engine.connect()
    if backend == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
        )
        connection.commit()
    else:
        # In WAL mode, as the app leaves a database it has opened once.
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    return engine, connection


@pytest.mark.slow
def test_hosts_upgrading_at_once_apply_each_migration_once(
    empty_database_url, backend, wait_for_lock_waiters
):
    engine, connection = hold_migration_lock(empty_database_url, backend)
    try:
        with ThreadPoolExecutor(2) as pool:
            upgrades = [
                pool.submit(flask_db, empty_database_url, "upgrade") for _ in range(2)
            ]
            # Both hosts wait for the lock before either reads the revision.
            wait_for_lock_waiters(empty_database_url, 2, settle=3)
            assert not any(upgrade.done() for upgrade in upgrades)
            if backend == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                connection.commit()
            else:
                connection.exec_driver_sql("ROLLBACK")
            results = [upgrade.result() for upgrade in upgrades]
    finally:
        connection.close()
        engine.dispose()
    for result in results:
        assert result.returncode == 0, result.stderr
    logs = "".join(result.stderr for result in results)
    assert logs.count(f"Running upgrade  -> {HEAD}") == 1
    assert tables_and_revision(empty_database_url)[1] == [HEAD]
