"""``flask db prune``: movements past their retention and expired idempotency
keys go, in batches; nothing else does; SQLite's write-ahead log is truncated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from stockapp.core.extensions import db

NO_WEBHOOK_ROWS = (
    "Removed 0 webhook attempts and 0 finished deliveries older than 30 days.\n"
)


def prune(app, **config):
    app.config.update(config)
    result = app.test_cli_runner().invoke(args=["db", "prune"])
    with app.app_context():
        db.engine.dispose()
    return result


def age_movements(rows, days: int, *members: str) -> None:
    for member in members:
        rows(
            "UPDATE movements SET at = :at WHERE member = :member",
            at=f"2000-01-01 00:00:00.{days:06d}",
            member=member,
        )


def movements(rows) -> list[tuple[str, str]]:
    found = rows("SELECT member, kind FROM movements ORDER BY id")
    return [(row["member"], row["kind"]) for row in found]


def test_by_default_every_movement_is_kept(app, client, seed, rows):
    seed(fruit={"apple": 1, "pear": 2})
    age_movements(rows, 1, "apple", "pear")
    result = prune(app)
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Kept every movement (MOVEMENT_RETENTION_DAYS is 0: forever).\n"
        "Removed 0 expired idempotency keys.\n" + NO_WEBHOOK_ROWS
    )
    assert movements(rows) == [("apple", "create"), ("pear", "create")]


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
def test_movements_past_their_retention_go_in_batches(
    app, client, seed, rows, batch_size
):
    seed(fruit={"apple": 1, "pear": 2, "fig": 3})
    client.post("/stock/fruit/apple/adjustments", json={"delta": 1})
    age_movements(rows, 1, "apple", "pear")
    result = prune(app, MOVEMENT_RETENTION_DAYS=30, PRUNE_BATCH_SIZE=batch_size)
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Removed 3 movements older than 30 days.\nRemoved 0 expired idempotency keys.\n"
        + NO_WEBHOOK_ROWS
    )
    assert movements(rows) == [("fig", "create")]
    # The stock itself is untouched, and its history reads what is left.
    assert client.get("/stock").get_json() == {
        "fruit": {"apple": 2, "pear": 2, "fig": 3}
    }
    history = client.get("/stock/fruit/history").get_json()["movements"]
    assert [movement["member"] for movement in history] == ["fig"]


def test_expired_idempotency_keys_go_too(app, client, seed, rows):
    seed(fruit={"apple": 1})
    for key in ("old", "new"):
        client.post(
            "/stock/fruit/apple/adjustments",
            json={"delta": 1},
            headers={"Idempotency-Key": key},
        )
    rows(
        "UPDATE idempotency_keys SET created_at = '2000-01-01 00:00:00'"
        " WHERE key = 'old'"
    )
    result = prune(app)
    assert result.output.endswith(
        "Removed 1 expired idempotency keys.\n" + NO_WEBHOOK_ROWS
    )
    assert [row["key"] for row in rows("SELECT key FROM idempotency_keys")] == ["new"]


@pytest.mark.sqlite_only
def test_the_write_ahead_log_is_truncated(app, client, seed, database_url):
    seed(fruit={f"m{number}": number for number in range(2000)})
    path = database_url.removeprefix("sqlite:///")
    wal = Path(path + "-wal")
    # A server's connection stays open, so the log outlives the command's own.
    server = sqlite3.connect(path)
    try:
        server.execute("SELECT count(*) FROM members").fetchone()
        client.put("/stock/fruit", json={f"m{number}": 1 for number in range(2000)})
        assert wal.stat().st_size > 100_000
        assert prune(app).exit_code == 0
        assert wal.stat().st_size == 0
        assert server.execute("SELECT count(*) FROM members").fetchone() == (2000,)
    finally:
        server.close()
