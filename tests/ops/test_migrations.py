"""The migrations own the schema: they build it, undo it, and match the models."""

import hashlib
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from helpers import bearer
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.pool import NullPool

from stockapp import MIGRATIONS, create_app
from stockapp.access.models import MAX_TOKEN_ID
from stockapp.core.clock import utcnow
from stockapp.core.database import MIGRATION_LOCK_KEY
from stockapp.core.extensions import db
from stockapp.stock.signals import movements_recorded


@pytest.fixture
def empty_app(empty_database_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url})
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
        "users",
        "api_tokens",
        "webhook_subscriptions",
        "webhook_subscription_collections",
        "webhook_deliveries",
        "webhook_attempts",
        "stocktakes",
        "stocktake_counts",
        "import_drafts",
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
    assert checks == {
        "ck_members_quantity_not_negative",
        "ck_members_reorder_level_not_negative",
    }
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
    # Existing rows start at a random version, as new ones do (not at 1).
    tags = {path: tag_of(client, path) for path in FRUIT_PATHS}
    assert all(1 <= tag <= 2**52 for tag in tags.values()), tags
    assert len(set(tags.values())) == 3
    adjusted = client.post("/stock/fruit/apple/adjustments", json={"delta": -1})
    assert adjusted.get_json() == {"quantity": 29}
    assert adjusted.headers["ETag"] == f'"{tags["/stock/fruit/apple"] + 1}"'


FRUIT_PATHS = ("/stock/fruit", "/stock/fruit/apple", "/stock/fruit/pear")


def tag_of(client, path: str) -> int:
    return int(client.get(path).headers["ETag"].strip('"'))


def test_a_downgrade_and_upgrade_repeat_no_etag(empty_app):
    db_command(empty_app, "upgrade")
    client = empty_app.test_client()
    client.post("/stock/fruit", json={"apple": 30, "pear": 0})
    before = {path: tag_of(client, path) for path in FRUIT_PATHS}
    db_command(empty_app, "downgrade", "0001")
    db_command(empty_app, "upgrade")
    after = {path: tag_of(client, path) for path in FRUIT_PATHS}
    assert set(before.values()).isdisjoint(after.values())
    assert client.get("/stock/fruit").get_json() == {"apple": 30, "pear": 0}


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


def rows_of(app, query):
    with app.app_context():
        return [tuple(row) for row in db.session.execute(text(query))]


MOVEMENTS = "SELECT collection, member, kind, before, after FROM movements ORDER BY id"
KEYS = "SELECT key, status FROM idempotency_keys ORDER BY id"


KEY_HEADERS = {"Idempotency-Key": "k1", "Content-Type": "application/json"}


def fingerprint_of(path: str) -> str:
    """The fingerprint stock/idempotency.py gives a POST of ``{"apple": 30}``."""
    digest = hashlib.sha256()
    for part in ("POST", path):
        digest.update(part.encode() + b"\0")
    digest.update(b'{"apple": 30}')
    return digest.hexdigest()


def test_upgrade_to_access_control_keeps_movements_and_keys(empty_app):
    db_command(empty_app, "upgrade", "0002")
    # Rows as version 0002 wrote them (the app's models are of the head version).
    with empty_app.app_context():
        for statement in (
            "INSERT INTO collections (id, name, version) VALUES (1, 'fruit', 2)",
            "INSERT INTO members (collection_id, name, quantity, version)"
            " VALUES (1, 'apple', 25, 2)",
            "INSERT INTO movements (collection, member, kind, before, after, at)"
            " VALUES ('fruit', 'apple', 'create', NULL, 30, '2026-11-24 10:00:00'),"
            " ('fruit', 'apple', 'adjust', 30, 25, '2026-11-24 10:01:00')",
            "INSERT INTO idempotency_keys (key, fingerprint, status, body, headers,"
            " created_at) VALUES ('k1', :fingerprint, 201,"
            " '{\"message\": \"Collection created\"}', '{}', :now)",
        ):
            db.session.execute(
                text(statement),
                {"fingerprint": fingerprint_of("/stock/fruit"), "now": utcnow()},
            )
        db.session.commit()
    movements = rows_of(empty_app, MOVEMENTS)
    keys = rows_of(empty_app, KEYS)
    db_command(empty_app, "upgrade")
    client = empty_app.test_client()
    assert rows_of(empty_app, MOVEMENTS) == movements
    assert rows_of(empty_app, KEYS) == keys
    # Made before users existed: anonymous, and the key is anonymous's.
    history = client.get("/stock/fruit/apple/history").get_json()["movements"]
    assert [movement["by"] for movement in history] == [None, None]
    replay = client.post("/stock/fruit", data=b'{"apple": 30}', headers=KEY_HEADERS)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"


def test_downgrade_from_access_control_keeps_the_stock_and_the_log(empty_app):
    db_command(empty_app, "upgrade")
    client = empty_app.test_client()
    client.post("/stock/fruit", json={"apple": 30}, headers={"Idempotency-Key": "k1"})
    movements = rows_of(empty_app, MOVEMENTS)
    db_command(empty_app, "downgrade", "0002")
    assert "users" not in tables(empty_app)
    assert rows_of(empty_app, MOVEMENTS) == movements
    assert rows_of(empty_app, KEYS) == [("k1", 201)]
    assert client.get("/stock").get_json() == {"fruit": {"apple": 30}}


def test_reorder_levels_come_and_go_keeping_the_stock(empty_app):
    db_command(empty_app, "upgrade", "0004")
    client = empty_app.test_client()
    # (The code of 0004 had no webhooks' outbox to write.)
    with movements_recorded.muted():
        created = client.post("/stock/fruit", json={"apple": 30, "pear": 2})
    assert created.status_code == 201
    movements = rows_of(empty_app, MOVEMENTS)
    db_command(empty_app, "upgrade")
    levels = "SELECT name, quantity, reorder_level FROM members ORDER BY id"
    assert rows_of(empty_app, levels) == [("apple", 30, None), ("pear", 2, None)]
    put = client.put(
        "/stock/fruit/pear/reorder-level",
        data="5",
        headers={"Content-Type": "application/json"},
    )
    assert put.status_code == 200
    assert client.get("/low-stock").get_json()["low_stock"][0]["member"] == "pear"
    db_command(empty_app, "downgrade", "0004")
    assert client.get("/stock").get_json() == {"fruit": {"apple": 30, "pear": 2}}
    assert rows_of(empty_app, MOVEMENTS) == movements
    db_command(empty_app, "upgrade")
    assert rows_of(empty_app, levels) == [("apple", 30, None), ("pear", 2, None)]


def test_the_import_kind_comes_and_goes_keeping_the_log(empty_app):
    db_command(empty_app, "upgrade", "0006")
    client = empty_app.test_client()
    client.post("/stock/fruit", json={"apple": 30, "pear": 2})
    client.post("/stock/fruit/apple/adjustments", json={"delta": -1, "reason": "x"})
    before = rows_of(empty_app, MOVEMENTS)
    db_command(empty_app, "upgrade")
    assert rows_of(empty_app, MOVEMENTS) == before
    with empty_app.app_context():
        db.session.execute(
            text(
                'INSERT INTO movements (collection, member, kind, "after", at)'
                " VALUES ('fruit', 'kiwi', 'import', 4, '2026-11-26 00:00:00')"
            )
        )
        db.session.commit()
    # The older code's CHECK takes it back as an update; every row stays.
    db_command(empty_app, "downgrade", "0006")
    kinds = "SELECT member, kind FROM movements ORDER BY id"
    assert rows_of(empty_app, kinds)[-1] == ("kiwi", "update")
    assert len(rows_of(empty_app, kinds)) == len(before) + 1
    with empty_app.app_context(), pytest.raises(IntegrityError):
        db.session.execute(text("UPDATE movements SET kind = 'import'"))
    db_command(empty_app, "upgrade")
    assert rows_of(empty_app, MOVEMENTS)[: len(before)] == before


MOVEMENT_ROWS = (
    'SELECT id, collection, member, kind, "before", "after", reason, "by", at'
    " FROM movements ORDER BY id"
)


def movement_indexes(app):
    with app.app_context():
        inspector = inspect(db.engine)
        return sorted(
            (index["name"], index["column_names"])
            for index in inspector.get_indexes("movements")
        )


def test_transfers_and_stocktakes_come_and_go_keeping_the_log(empty_app):
    db_command(empty_app, "upgrade", "0010")
    client = empty_app.test_client()
    client.post("/stock/north", json={"apple": 30})
    client.post("/stock/south", json={"apple": 1})
    client.post("/stock/north/apple/adjustments", json={"delta": -1, "reason": "x"})
    before, indexes = rows_of(empty_app, MOVEMENT_ROWS), movement_indexes(empty_app)
    assert len(before) == 3

    db_command(empty_app, "upgrade")
    assert rows_of(empty_app, MOVEMENT_ROWS) == before
    # Kept, and 0015's two for the series (trends/) beside them.
    by_time = ["collection", "member", "at", "id"]
    assert movement_indexes(empty_app) == sorted(
        [
            *indexes,
            ("ix_movements_collection_member_at_id", by_time),
            ("ix_movements_level_collection_member_at_id", by_time),
        ]
    )
    groups = "SELECT batch, transfer, stocktake FROM movements ORDER BY id"
    assert rows_of(empty_app, groups) == [(None, None, None)] * 3
    moved = client.post(
        "/transfers",
        json={
            "from": {"collection": "north", "member": "apple"},
            "to": {"collection": "south", "member": "apple"},
            "quantity": 2,
        },
    )
    assert moved.status_code == 200, moved.get_json()
    with empty_app.app_context():
        db.session.execute(
            text(
                "INSERT INTO stocktakes (collection, state, opened_at)"
                " VALUES ('north', 'open', '2026-12-02 00:00:00')"
            )
        )
        db.session.execute(
            text(
                'INSERT INTO movements (collection, member, kind, "before", "after",'
                " at, stocktake) VALUES ('north', 'apple', 'stocktake', 27, 25,"
                " '2026-12-02 00:00:00', 1)"
            )
        )
        db.session.commit()
    kinds = "SELECT member, kind FROM movements ORDER BY id"
    assert [kind for _, kind in rows_of(empty_app, kinds)][3:] == [
        "transfer",
        "transfer",
        "stocktake",
    ]

    # The older code knows neither kind: they stay, as updates; the stocktakes
    # and the group columns go.
    db_command(empty_app, "downgrade", "0010")
    assert rows_of(empty_app, MOVEMENT_ROWS)[:3] == before
    assert [kind for _, kind in rows_of(empty_app, kinds)][3:] == ["update"] * 3
    assert "stocktakes" not in tables(empty_app)
    assert movement_indexes(empty_app) == indexes
    with empty_app.app_context():
        columns = {c["name"] for c in inspect(db.engine).get_columns("movements")}
    assert not columns & {"batch", "transfer", "stocktake"}
    with empty_app.app_context(), pytest.raises(IntegrityError):
        db.session.execute(text("UPDATE movements SET kind = 'transfer'"))
    db_command(empty_app, "upgrade")
    assert rows_of(empty_app, MOVEMENT_ROWS)[:3] == before
    db_command(empty_app, "check")


TOKENS = (
    "SELECT id, user_id, label, scope, digest, collections, expires_at"
    " FROM api_tokens ORDER BY id"
)


def token_table_shape(app):
    """api_tokens' keys, checks and indexes, as the inspector sees them."""
    with app.app_context():
        inspector = inspect(db.engine)
        return (
            [
                (fk["name"], fk["referred_table"], fk["options"])
                for fk in inspector.get_foreign_keys("api_tokens")
            ],
            sorted(c["name"] for c in inspector.get_unique_constraints("api_tokens")),
            sorted(c["name"] for c in inspector.get_check_constraints("api_tokens")),
            sorted(index["name"] for index in inspector.get_indexes("api_tokens")),
        )


def test_the_metrics_scope_comes_and_goes_keeping_the_other_tokens(empty_app):
    db_command(empty_app, "upgrade", "0007")
    runner = empty_app.test_cli_runner()
    for name, role in (("ops", "admin"), ("bob", "clerk")):
        result = runner.invoke(
            args=["users", "create", name, "--role", role, "--password-stdin"],
            input="a long enough password\n",
        )
        assert result.exit_code == 0, result.output
    made = runner.invoke(
        args=["tokens", "create", "--user", "bob", "--label", "t", "--scope", "write"]
    )
    assert made.exit_code == 0, made.output
    secret = made.output.strip()
    runner.invoke(
        args=["tokens", "create", "--user", "ops", "--label", "limited"]
        + ["--scope", "read", "--collection", "fruit", "--expires-in", "9"]
    )
    before = rows_of(empty_app, TOKENS)
    shape = token_table_shape(empty_app)
    assert [row[3] for row in before] == ["write", "read"]

    db_command(empty_app, "upgrade")
    assert rows_of(empty_app, TOKENS) == before
    assert token_table_shape(empty_app) == shape
    me = empty_app.test_client().get("/me", headers=bearer(secret))
    assert me.status_code == 200
    scraper = runner.invoke(
        args=["tokens", "create", "--user", "ops", "--label", "p", "--scope", "metrics"]
    )
    assert scraper.exit_code == 0, scraper.output
    assert rows_of(empty_app, TOKENS)[-1][2:4] == ("p", "metrics")

    # The older code has no metrics scope: the token goes, the others stay.
    db_command(empty_app, "downgrade", "0007")
    assert rows_of(empty_app, TOKENS) == before
    assert token_table_shape(empty_app) == shape
    with empty_app.app_context(), pytest.raises(IntegrityError):
        db.session.execute(text("UPDATE api_tokens SET scope = 'metrics'"))
    db_command(empty_app, "upgrade")
    assert rows_of(empty_app, TOKENS) == before
    # The foreign key still cascades: a deleted user takes its tokens along.
    with empty_app.app_context():
        db.session.execute(text("DELETE FROM users WHERE name = 'bob'"))
        db.session.commit()
    assert rows_of(empty_app, TOKENS) == before[1:]


# The newest revision.
HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()
# Every id and every column naming one, as "table.column" (0009 widens them).
ID_COLUMNS = (
    "api_tokens.id",
    "api_tokens.user_id",
    "collections.id",
    "idempotency_keys.id",
    "idempotency_keys.user_id",
    "members.collection_id",
    "members.id",
    "movements.id",
    "users.id",
)
# Those of the webhooks' tables (0010), bigint from the start.
WEBHOOK_ID_COLUMNS = (
    "webhook_attempts.delivery_id",
    "webhook_attempts.id",
    "webhook_attempts.subscription_id",
    "webhook_deliveries.id",
    "webhook_deliveries.subscription_id",
    "webhook_subscription_collections.subscription_id",
    "webhook_subscriptions.id",
)
WEBHOOK_ID_TABLES = ("webhook_subscriptions", "webhook_deliveries", "webhook_attempts")
# Those of the stocktakes' tables (0011), bigint from the start too.
STOCKTAKE_ID_COLUMNS = ("stocktake_counts.stocktake_id", "stocktakes.id")
# Every table 0009 widens (all but alembic_version): each has an id.
ID_TABLES = (
    "collections",
    "members",
    "movements",
    "idempotency_keys",
    "users",
    "api_tokens",
)
BEYOND_32_BITS = 3_000_000_000


def id_types(app, backend):
    """The stored type of every column named id or ending in _id, by "table.column"."""
    if backend == "postgresql":
        query = (
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema()"
            " AND (column_name = 'id' OR right(column_name, 3) = '_id')"
        )
    else:
        query = (
            "SELECT m.name, c.name, c.type FROM sqlite_master m,"
            " pragma_table_info(m.name) c WHERE m.type = 'table'"
            " AND (c.name = 'id' OR substr(c.name, -3) = '_id')"
        )
    return {f"{table}.{column}": kind for table, column, kind in rows_of(app, query)}


def sequences(app):
    """PostgreSQL's sequences: each one's type and maximum."""
    query = (
        "SELECT sequence_name, data_type, maximum_value"
        " FROM information_schema.sequences WHERE sequence_schema = current_schema()"
    )
    return {name: (kind, int(maximum)) for name, kind, maximum in rows_of(app, query)}


def assert_ids_are(app, backend, width):
    """Every id column is ``width`` ("bigint" or "integer") on PostgreSQL, and so
    is each id's sequence; on SQLite they stay INTEGER, the 64-bit rowid."""
    found = id_types(app, backend)
    # The webhooks' ids (0010 on) are bigint whatever the older ids are.
    webhooks = "webhook_deliveries.id" in found
    newer = ("webhook_", "stocktake")
    older = {key: kind for key, kind in found.items() if not key.startswith(newer)}
    if backend == "sqlite":
        assert older == dict.fromkeys(ID_COLUMNS, "INTEGER")
        return
    assert older == dict.fromkeys(ID_COLUMNS, width)
    if webhooks:
        assert {key: found[key] for key in WEBHOOK_ID_COLUMNS} == dict.fromkeys(
            WEBHOOK_ID_COLUMNS, "bigint"
        )
    if "stocktakes.id" in found:
        assert {key: found[key] for key in STOCKTAKE_ID_COLUMNS} == dict.fromkeys(
            STOCKTAKE_ID_COLUMNS, "bigint"
        )
    maximum = 2**63 - 1 if width == "bigint" else 2**31 - 1
    expected = {f"{table}_id_seq": (width, maximum) for table in ID_TABLES}
    if webhooks:
        expected.update(
            {f"{table}_id_seq": ("bigint", 2**63 - 1) for table in WEBHOOK_ID_TABLES}
        )
    if "stocktakes.id" in found:
        expected["stocktakes_id_seq"] = ("bigint", 2**63 - 1)
    assert sequences(app) == expected


# The movement log's columns before 0011 added the batch, transfer and stocktake.
# The columns 0009 knew, of the tables later revisions widen.
KNOWN_COLUMNS = {
    "movements": 'id, collection, member, kind, "before", "after", reason, at, "by"',
    "members": "id, collection_id, name, quantity, version, reorder_level",
}


def every_row(app):
    """Every row of every table 0009 widens, in id order (the columns as 0009
    knew them)."""
    return {
        table: rows_of(
            app, f"SELECT {KNOWN_COLUMNS.get(table, '*')} FROM {table} ORDER BY id"
        )
        for table in ID_TABLES
    }


def schema_shape(app):
    """Every table's keys, checks and indexes, as the inspector sees them."""
    with app.app_context():
        inspector = inspect(db.engine)
        return {
            table: (
                inspector.get_pk_constraint(table),
                [
                    (fk["name"], fk["constrained_columns"], fk["referred_table"])
                    + (fk["referred_columns"], fk["options"])
                    for fk in inspector.get_foreign_keys(table)
                ],
                sorted(c["name"] for c in inspector.get_unique_constraints(table)),
                sorted(c["name"] for c in inspector.get_check_constraints(table)),
                sorted(
                    (index["name"], index["column_names"])
                    for index in inspector.get_indexes(table)
                ),
            )
            for table in ID_TABLES
        }


def cli(app, *args, input=None):
    result = app.test_cli_runner().invoke(args=list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def make_user(app, name, role):
    """A user made with ``flask users create``."""
    password = "a long enough password\n"
    create = ["users", "create", name, "--role", role, "--password-stdin"]
    cli(app, *create, input=password)


def make_token(app, name, scope):
    """A token of user ``name`` made with ``flask tokens create``; its secret."""
    return cli(
        app, "tokens", "create", "--user", name, "--label", "t", "--scope", scope
    )


def fill_every_table(app):
    """A row or more in every table 0009 widens, made through the CLI and the
    API (before 0010, with the webhooks' outbox muted: that code had none)."""
    if "webhook_deliveries" in tables(app):
        return _fill_every_table(app)
    with movements_recorded.muted():
        return _fill_every_table(app)


def _fill_every_table(app):
    make_user(app, "ops", "admin")
    make_user(app, "bob", "clerk")
    make_token(app, "ops", "admin")
    bob = make_token(app, "bob", "write")
    client = app.test_client()
    # Bob's idempotency key and an anonymous caller's (user_id 0).
    for path, headers in (("/stock/fruit", bearer(bob)), ("/stock/veg", {})):
        created = client.post(
            path,
            json={"apple": 30, "pear": 2},
            headers={**headers, "Idempotency-Key": "k1"},
        )
        assert created.status_code == 201
    adjusted = client.post("/stock/fruit/apple/adjustments", json={"delta": -1})
    assert adjusted.status_code == 200
    return bob


def pages_of(client, url):
    """Each page's JSON, from ``url`` on, following each ``Link: rel="next"``."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.get_json()
        pages.append(response.get_json())
        link = response.headers.get("Link")
        url = link and re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1)
    return pages


def test_ids_widen_to_64_bits_keeping_every_row_and_key(empty_app, backend):
    db_command(empty_app, "upgrade", "0008")
    bob = fill_every_table(empty_app)
    assert_ids_are(empty_app, backend, "integer")
    before, shape = every_row(empty_app), schema_shape(empty_app)
    assert all(before.values())

    db_command(empty_app, "upgrade", "0009")
    assert_ids_are(empty_app, backend, "bigint")
    assert every_row(empty_app) == before
    assert schema_shape(empty_app) == shape
    db_command(empty_app, "upgrade")
    assert every_row(empty_app) == before
    db_command(empty_app, "check")
    # The keys still hold: a token finds its user, a retry its first answer.
    client = empty_app.test_client()
    assert client.get("/me", headers=bearer(bob)).get_json()["user"] == "bob"
    replay = client.post(
        "/stock/fruit",
        json={"apple": 30, "pear": 2},
        headers={**bearer(bob), "Idempotency-Key": "k1"},
    )
    assert replay.headers["Idempotent-Replayed"] == "true"
    # ... and the foreign keys still cascade.
    with empty_app.app_context():
        db.session.execute(text("DELETE FROM collections WHERE name = 'fruit'"))
        db.session.execute(text("DELETE FROM users WHERE name = 'bob'"))
        db.session.commit()
    members = "SELECT c.name, m.name FROM members m JOIN collections c"
    assert rows_of(empty_app, members + " ON c.id = m.collection_id") == [
        ("veg", "apple"),
        ("veg", "pear"),
    ]
    assert rows_of(empty_app, "SELECT label, scope FROM api_tokens") == [("t", "admin")]


def test_stock_and_history_ids_beyond_32_bits_work_after_the_upgrade(
    empty_app, backend
):
    db_command(empty_app, "upgrade", "0008")
    big = f"INSERT INTO collections (id, name) VALUES ({BEYOND_32_BITS}, 'big')"
    if backend == "postgresql":
        # What the upgrade is for: a 32-bit id column refuses it.
        with empty_app.app_context(), pytest.raises(DataError):
            db.session.execute(text(big))
    db_command(empty_app, "upgrade")
    client = empty_app.test_client()
    assert client.post("/stock/fruit", json={"apple": 1}).status_code == 201
    with empty_app.app_context():
        db.session.execute(text(big))
        db.session.execute(
            text("INSERT INTO collections (id, name) VALUES (:id, 'bigger')"),
            {"id": BEYOND_32_BITS + 1},
        )
        # An old movement beyond 32 bits: SQLite numbers the next one after
        # it; PostgreSQL's sequence is moved there too (it takes no more than
        # 2^31-1 while it is a 32-bit sequence).
        db.session.execute(
            text(
                'INSERT INTO movements (id, collection, member, kind, "after", at)'
                " VALUES (:id, 'gone', 'old', 'create', 1, :now)"
            ),
            {"id": BEYOND_32_BITS, "now": utcnow()},
        )
        if backend == "postgresql":
            db.session.execute(
                text("SELECT setval('movements_id_seq', :id)"), {"id": BEYOND_32_BITS}
            )
        db.session.commit()

    assert client.put("/stock/big/apple", json=5).status_code == 201
    for _ in range(2):
        client.post("/stock/big/apple/adjustments", json={"delta": 1})
    assert client.get("/stock/big").get_json() == {"apple": 7}
    assert client.get("/stock/big/apple").get_json() == 7
    members = "SELECT collection_id, name, quantity FROM members WHERE name = 'apple'"
    assert rows_of(empty_app, members + " ORDER BY collection_id") == [
        (1, "apple", 1),
        (BEYOND_32_BITS, "apple", 7),
    ]
    # A page at a time: the later cursors name ids beyond 32 bits.
    stock = pages_of(client, "/stock?limit=1")
    assert stock == [{"fruit": {"apple": 1}}, {"big": {"apple": 7}}, {"bigger": {}}]
    history = pages_of(client, "/stock/big/apple/history?limit=1")
    assert [[m["id"], m["after"]] for page in history for m in page["movements"]] == [
        [BEYOND_32_BITS + 3, 7],
        [BEYOND_32_BITS + 2, 6],
        [BEYOND_32_BITS + 1, 5],
    ]


def test_users_and_tokens_beyond_32_bits_work_after_the_upgrade(empty_app):
    db_command(empty_app, "upgrade", "0008")
    db_command(empty_app, "upgrade")
    make_user(empty_app, "ops", "admin")
    with empty_app.app_context():
        db.session.execute(text(f"UPDATE users SET id = {BEYOND_32_BITS}"))
        db.session.commit()
    secret = make_token(empty_app, "ops", "admin")
    with empty_app.app_context():
        # The largest id a token route takes.
        db.session.execute(text(f"UPDATE api_tokens SET id = {MAX_TOKEN_ID}"))
        db.session.commit()
    assert MAX_TOKEN_ID == 2**63 - 1
    client = empty_app.test_client()
    me = client.get("/me", headers=bearer(secret)).get_json()
    assert (me["user"], me["token"]) == ("ops", MAX_TOKEN_ID)
    token = client.get(f"/tokens/{MAX_TOKEN_ID}", headers=bearer(secret))
    assert token.status_code == 200
    assert (token.get_json()["id"], token.get_json()["user"]) == (MAX_TOKEN_ID, "ops")
    beyond = client.get(f"/tokens/{MAX_TOKEN_ID + 1}", headers=bearer(secret))
    assert beyond.status_code == 404
    assert beyond.get_json()["error"] == "Not found"

    key = {**bearer(secret), "Idempotency-Key": "k1"}
    assert client.post("/stock/fruit", json={}, headers=key).status_code == 201
    replay = client.post("/stock/fruit", json={}, headers=key)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert rows_of(empty_app, "SELECT user_id, key FROM idempotency_keys") == [
        (BEYOND_32_BITS, "k1")
    ]
    revoked = client.delete(f"/tokens/{MAX_TOKEN_ID}", headers=bearer(secret))
    assert revoked.status_code == 204


def test_downgrade_narrows_the_ids_back_keeping_every_row(empty_app, backend):
    db_command(empty_app, "upgrade")
    fill_every_table(empty_app)
    before = every_row(empty_app)
    # The shape 0009 gives (later revisions add their own columns and indexes).
    db_command(empty_app, "downgrade", "0009")
    shape = schema_shape(empty_app)

    db_command(empty_app, "downgrade", "0008")
    assert_ids_are(empty_app, backend, "integer")
    assert every_row(empty_app) == before
    assert schema_shape(empty_app) == shape
    db_command(empty_app, "upgrade")
    assert_ids_are(empty_app, backend, "bigint")
    assert every_row(empty_app) == before
    db_command(empty_app, "check")


@pytest.mark.postgresql_only
@pytest.mark.parametrize(
    "statement, found",
    [
        (
            f"INSERT INTO collections (id, name) VALUES ({BEYOND_32_BITS}, 'big')",
            f"collections.id holds {BEYOND_32_BITS}",
        ),
        (
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, created_at)"
            f" VALUES ({BEYOND_32_BITS}, 'k1', 'f', now())",
            f"idempotency_keys.user_id holds {BEYOND_32_BITS}",
        ),
        # No row beyond, but the next id would be.
        (
            f"SELECT setval('movements_id_seq', {BEYOND_32_BITS})",
            f"sequence movements_id_seq is at {BEYOND_32_BITS}",
        ),
    ],
)
def test_downgrade_refuses_ids_beyond_32_bits_changing_nothing(
    empty_app, empty_database_url, backend, statement, found
):
    db_command(empty_app, "upgrade")
    fill_every_table(empty_app)
    with empty_app.app_context():
        db.session.execute(text(statement))
        db.session.commit()
    before = every_row(empty_app)

    result = flask_db(empty_database_url, "downgrade", "0008")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "ERROR [flask_migrate] Error: Cannot narrow the ids back to integer"
        f" (-2147483648 to 2147483647): {found}. Nothing was changed."
    )
    assert rows_of(empty_app, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert_ids_are(empty_app, backend, "bigint")
    assert every_row(empty_app) == before


@pytest.mark.sqlite_only
def test_downgrade_on_sqlite_keeps_ids_beyond_32_bits(empty_app, backend):
    # SQLite's INTEGER was 64-bit before the upgrade too: nothing to narrow.
    db_command(empty_app, "upgrade")
    big = f"INSERT INTO collections (id, name) VALUES ({BEYOND_32_BITS}, 'big')"
    with empty_app.app_context():
        db.session.execute(text(big))
        db.session.commit()
    db_command(empty_app, "downgrade", "0008")
    assert rows_of(empty_app, "SELECT id, name FROM collections") == [
        (BEYOND_32_BITS, "big")
    ]
    assert_ids_are(empty_app, backend, "integer")


def flask_db(url: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``flask db ...`` on the database at ``url`` as a deployment would."""
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi"}
    return subprocess.run(
        [sys.executable, "-m", "flask", "db", *args],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def hold_migration_lock(url: str, backend: str):
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


def release_migration_lock(connection, backend: str) -> None:
    if backend == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
        )
        connection.commit()
    else:
        connection.exec_driver_sql("ROLLBACK")


@pytest.mark.slow
def test_hosts_upgrading_at_once_apply_each_migration_once(
    empty_app, empty_database_url, backend, wait_for_lock_waiters
):
    scripts = ScriptDirectory(str(MIGRATIONS))
    engine, connection = hold_migration_lock(empty_database_url, backend)
    try:
        with ThreadPoolExecutor(2) as pool:
            upgrades = [
                pool.submit(flask_db, empty_database_url, "upgrade") for _ in range(2)
            ]
            # Both hosts wait for the lock before either reads the revision.
            wait_for_lock_waiters(empty_database_url, 2, settle=3)
            assert not any(upgrade.done() for upgrade in upgrades)
            release_migration_lock(connection, backend)
            results = [upgrade.result() for upgrade in upgrades]
    finally:
        connection.close()
        engine.dispose()
    for result in results:
        assert result.returncode == 0, result.stderr
    logs = "".join(result.stderr for result in results)
    for script in scripts.walk_revisions():
        assert logs.count(f"-> {script.revision}, ") == 1
    with empty_app.app_context():
        revisions = db.session.execute(text("SELECT version_num FROM alembic_version"))
        assert revisions.scalars().all() == scripts.get_heads()
