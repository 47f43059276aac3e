"""The migrations own the schema: they build it, undo it, and match the models."""

import pytest
from sqlalchemy import inspect, text

from stockapp import create_app
from stockapp.extensions import db


@pytest.fixture
def empty_app(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}"})
    yield app
    with app.app_context():
        db.engine.dispose()


def tables(app):
    with app.app_context():
        return set(inspect(db.engine).get_table_names())


def db_command(app, *args):
    result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_upgrade_builds_the_schema_on_an_empty_database(empty_app):
    db_command(empty_app, "upgrade")
    assert tables(empty_app) == {
        "alembic_version",
        "collections",
        "members",
        "movements",
        "idempotency_keys",
    }
    assert (
        empty_app.test_client().post("/stock/fruit", json={"a": 1}).status_code == 201
    )


def test_schema_has_the_named_constraints(empty_app):
    db_command(empty_app, "upgrade")
    with empty_app.app_context():
        inspector = inspect(db.engine)
        checks = {c["name"] for c in inspector.get_check_constraints("members")}
        uniques = {c["name"] for c in inspector.get_unique_constraints("members")}
        foreign_keys = inspector.get_foreign_keys("members")
    assert checks == {"ck_members_quantity_not_negative"}
    assert uniques == {"uq_members_collection_id_name"}
    assert [fk["name"] for fk in foreign_keys] == [
        "fk_members_collection_id_collections"
    ]
    assert foreign_keys[0]["options"] == {"ondelete": "CASCADE"}


def test_downgrade_to_base_removes_everything(empty_app):
    db_command(empty_app, "upgrade")
    db_command(empty_app, "downgrade", "base")
    assert tables(empty_app) == {"alembic_version"}
    # ... and the way back up works again.
    db_command(empty_app, "upgrade")
    assert "members" in tables(empty_app)


def test_models_and_migrations_do_not_drift(empty_app):
    db_command(empty_app, "upgrade")
    # `flask db check` exits non-zero when autogenerate finds any difference
    # (the next test shows it does).
    db_command(empty_app, "check")


def test_check_reports_drift_on_an_unmigrated_database(empty_app):
    result = empty_app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code != 0


def test_upgrade_keeps_the_data_of_the_previous_version(empty_app):
    db_command(empty_app, "upgrade", "0001")
    with empty_app.app_context():
        db.session.execute(
            text("INSERT INTO collections (id, name) VALUES (1, 'fruit')")
        )
        db.session.execute(
            text(
                "INSERT INTO members (collection_id, name, quantity)"
                " VALUES (1, 'apple', 30), (1, 'pear', 0)"
            )
        )
        db.session.commit()
    db_command(empty_app, "upgrade")
    client = empty_app.test_client()
    assert client.get("/stock").get_json() == {"fruit": {"apple": 30, "pear": 0}}
    assert client.get("/stock/fruit").headers["ETag"] == '"1"'
    adjusted = client.post("/stock/fruit/apple/adjustments", json={"delta": -1})
    assert adjusted.get_json() == {"quantity": 29}
    assert adjusted.headers["ETag"] == '"2"'


def test_downgrade_to_the_previous_version_keeps_the_stock(empty_app):
    db_command(empty_app, "upgrade")
    client = empty_app.test_client()
    client.post("/stock/fruit", json={"apple": 30})
    db_command(empty_app, "downgrade", "0001")
    assert tables(empty_app) == {"alembic_version", "collections", "members"}
    with empty_app.app_context():
        rows = db.session.execute(
            text("SELECT name, quantity FROM members ORDER BY id")
        ).all()
    assert [tuple(row) for row in rows] == [("apple", 30)]
