"""Settings: the class in use, production's refusal, SQLite's connection settings,
the database's waits against the worker timeout."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from config import ProductionConfig
from stockapp import create_app
from stockapp.core.extensions import db


def pragma(app, name):
    with app.app_context():
        return db.session.execute(text(f"PRAGMA {name}")).scalar()


def test_production_refuses_to_start_without_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("STOCKAPP_CONFIG", "production")
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", None)
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}"})


def test_production_starts_with_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("STOCKAPP_CONFIG", "production")
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", "s3cret")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}"})
    assert app.config["SECRET_KEY"] == "s3cret"
    assert not app.testing


def test_unknown_settings_name_is_refused(monkeypatch):
    monkeypatch.setenv("STOCKAPP_CONFIG", "staging")
    with pytest.raises(RuntimeError, match="STOCKAPP_CONFIG must be one of"):
        create_app()


def test_default_database_is_a_sqlite_file_in_the_instance_folder():
    app = create_app()
    expected = Path(app.instance_path) / "stockapp.sqlite"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///stockapp.sqlite"
    with app.app_context():
        assert db.engine.url.database == str(expected)


@pytest.mark.sqlite_only
def test_sqlite_connections_are_set_up_for_concurrent_workers(app):
    assert pragma(app, "journal_mode") == "wal"
    assert pragma(app, "foreign_keys") == 1
    assert pragma(app, "busy_timeout") == 10_000
    # The testing settings trade durability for speed ...
    assert pragma(app, "synchronous") == 0


@pytest.mark.sqlite_only
def test_sqlite_is_fully_durable_by_default(monkeypatch, database_url):
    # ... while every other setting fsyncs each commit (synchronous=FULL is 2).
    monkeypatch.setenv("STOCKAPP_CONFIG", "development")
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    assert pragma(app, "synchronous") == 2


@pytest.mark.sqlite_only
def test_sqlite_durability_is_configurable(database_url):
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "SQLITE_SYNCHRONOUS": "normal"}
    )
    assert pragma(app, "synchronous") == 1


@pytest.mark.sqlite_only
def test_bad_durability_setting_is_refused(database_url):
    with pytest.raises(ValueError, match="SQLITE_SYNCHRONOUS must be one of"):
        create_app(
            {"SQLALCHEMY_DATABASE_URI": database_url, "SQLITE_SYNCHRONOUS": "1; x"}
        )


@pytest.mark.sqlite_only
def test_writes_take_the_write_lock_up_front(app, client, count_statements):
    with count_statements() as statements:
        client.post("/stock/fruit", json={"apple": 1})
    assert statements[0] == "BEGIN IMMEDIATE"
    assert statements.count("BEGIN IMMEDIATE") == 1


@pytest.mark.sqlite_only
def test_a_read_of_one_statement_runs_without_a_transaction(
    app, client, count_statements
):
    client.post("/stock/fruit", json={"apple": 1})
    with count_statements() as statements:
        assert client.get("/stock/fruit").status_code == 200
        assert client.get("/stock/fruit/apple").status_code == 200
    assert len(statements) == 2
    assert all(statement.startswith("SELECT") for statement in statements)


POSTGRESQL = "postgresql+psycopg://app@db.internal/stock"
SQLITE = "sqlite:///stock.sqlite"


@pytest.mark.parametrize(
    ("url", "setting", "value", "named"),
    [
        (SQLITE, "SQLITE_BUSY_TIMEOUT_MS", 30_000, "SQLITE_BUSY_TIMEOUT_MS=30000"),
        (POSTGRESQL, "DATABASE_POOL_TIMEOUT", 30, "DATABASE_POOL_TIMEOUT=30"),
        (POSTGRESQL, "DATABASE_CONNECT_TIMEOUT", 60, "DATABASE_CONNECT_TIMEOUT=60"),
        (
            POSTGRESQL,
            "DATABASE_LOCK_TIMEOUT_MS",
            30_000,
            "DATABASE_LOCK_TIMEOUT_MS=30000",
        ),
        (
            POSTGRESQL,
            "DATABASE_STATEMENT_TIMEOUT_MS",
            0,
            "DATABASE_STATEMENT_TIMEOUT_MS=0 (waits forever)",
        ),
    ],
)
def test_a_database_wait_not_shorter_than_the_worker_timeout_is_refused(
    url, setting, value, named
):
    config = {"SQLALCHEMY_DATABASE_URI": url, "GUNICORN_TIMEOUT": 30, setting: value}
    with pytest.raises(RuntimeError) as refused:
        create_app(config)
    assert str(refused.value) == (
        f"{named}: each database wait must be shorter than GUNICORN_TIMEOUT (30 s),"
        " so that a request the database keeps waiting is answered 503, not killed"
        " with its worker"
    )


@pytest.mark.parametrize("url", [SQLITE, POSTGRESQL])
def test_the_default_waits_are_shorter_than_the_default_worker_timeout(url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    assert app.config["GUNICORN_TIMEOUT"] == 30
    with app.app_context():
        db.engine.dispose()


def test_a_wait_of_another_backend_is_not_held_against_it():
    # SQLite's busy timeout means nothing to a PostgreSQL deployment.
    config = {
        "SQLALCHEMY_DATABASE_URI": POSTGRESQL,
        "GUNICORN_TIMEOUT": 8,
        "SQLITE_BUSY_TIMEOUT_MS": 10_000,
        "DATABASE_POOL_TIMEOUT": 5,
        "DATABASE_STATEMENT_TIMEOUT_MS": 7_000,
    }
    assert create_app(config).config["GUNICORN_TIMEOUT"] == 8


def check_gunicorn_config(tmp_path, worker_timeout):
    """Run ``gunicorn --check-config --print-config wsgi:app`` (it loads the app) as
    a deployment would, with GUNICORN_TIMEOUT set in the environment."""
    env = {
        **os.environ,
        "GUNICORN_TIMEOUT": str(worker_timeout),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'stock.sqlite'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "--print-config"]
        + ["wsgi:app"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_gunicorn_and_the_app_read_one_worker_timeout(tmp_path):
    # SQLite's default busy timeout is 10 s: a worker timeout of 11 s is
    # longer, one of 10 s is not.
    started = check_gunicorn_config(tmp_path, 11)
    assert started.returncode == 0, started.stderr
    assert ["timeout", "=", "11"] in [
        line.split() for line in started.stdout.split("\n")
    ]
    refused = check_gunicorn_config(tmp_path, 10)
    assert refused.returncode == 1
    assert (
        "RuntimeError: SQLITE_BUSY_TIMEOUT_MS=10000: each database wait must be"
        " shorter than GUNICORN_TIMEOUT (10 s)"
    ) in refused.stderr
