"""Settings: the class in use, production's refusal, SQLite's connection settings."""

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
    assert pragma(app, "busy_timeout") == 30_000
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
