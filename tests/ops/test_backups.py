"""``flask db backup`` / ``flask db restore``: SQLite's online backup API."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from gunicorn_server import REPOSITORY, Server
from helpers import migrations_head

from stockapp.core.extensions import db

# The schema this code needs: what a fresh backup says it holds.
HEAD = migrations_head()


def sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def table(path: Path) -> list[tuple]:
    """The stock in a SQLite file, read without the app."""
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT c.name, m.name, m.quantity FROM members m JOIN collections c"
            " ON c.id = m.collection_id ORDER BY m.id"
        ).fetchall()


@pytest.fixture
def cli(runner, app):
    """Run ``flask db ...``; the app's connections are closed afterwards."""

    def run(*args: str):
        result = runner.invoke(args=["db", *args])
        with app.app_context():
            db.engine.dispose()
        return result

    return run


@pytest.mark.sqlite_only
def test_a_backup_is_a_checked_copy_of_the_stock(cli, seed, database_url, tmp_path):
    seed(fruit={"apple": 30, "pear": 2})
    backup = tmp_path / "nightly.sqlite"
    result = cli("backup", str(backup))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"Backed up {sqlite_file(database_url)} to {backup}:"
    )
    assert f"schema {HEAD}, 1 collection, 2 members," in result.output
    assert table(backup) == [("fruit", "apple", 30), ("fruit", "pear", 2)]
    # One self-contained file, nothing left half-written beside it.
    with sqlite3.connect(backup) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert sorted(
        path.name for path in tmp_path.iterdir() if "nightly" in path.name
    ) == ["nightly.sqlite"]


@pytest.mark.sqlite_only
def test_a_backup_does_not_replace_a_file_unless_forced(cli, seed, tmp_path):
    seed(fruit={"apple": 30})
    backup = tmp_path / "b.sqlite"
    backup.write_bytes(b"keep me")
    result = cli("backup", str(backup))
    assert result.exit_code == 1
    assert f"{backup} exists; pass --force to replace it." in result.output
    assert backup.read_bytes() == b"keep me"
    assert cli("backup", "--force", str(backup)).exit_code == 0
    assert table(backup) == [("fruit", "apple", 30)]


@pytest.mark.sqlite_only
def test_a_restore_brings_the_stock_back(cli, client, seed, tmp_path, stored):
    seed(fruit={"apple": 30})
    backup = tmp_path / "b.sqlite"
    assert cli("backup", str(backup)).exit_code == 0
    client.put("/stock/fruit", json={"kiwi": 1})
    client.post("/stock/veg", json={"leek": 2})
    result = cli("restore", str(backup))
    assert result.exit_code == 0, result.output
    assert f"schema {HEAD}, 1 collection, 1 member." in result.output
    assert stored() == {"fruit": {"apple": 30}}
    assert "Every collection and member has a new ETag." in result.output
    # The restored database serves and takes writes again.
    assert client.patch("/stock/fruit", json={"pear": 3}).status_code == 200
    assert stored() == {"fruit": {"apple": 30, "pear": 3}}


@pytest.mark.sqlite_only
def test_a_restore_refuses_while_another_process_has_the_database_open(
    cli, seed, database_url, tmp_path, stored
):
    seed(fruit={"apple": 30})
    backup = tmp_path / "b.sqlite"
    assert cli("backup", str(backup)).exit_code == 0
    seed(veg={"leek": 2})
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
            " c.execute('SELECT 1 FROM collections').fetchall();"
            " print('open', flush=True); sys.stdin.read()",
            str(sqlite_file(database_url)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout.readline() == "open\n"
        refused = cli("restore", str(backup))
        assert refused.exit_code == 1
        assert "is open in another process (a running server?)" in refused.output
        assert stored() == {"fruit": {"apple": 30}, "veg": {"leek": 2}}
        forced = cli("restore", "--force", str(backup))
        assert forced.exit_code == 0, forced.output
        assert stored() == {"fruit": {"apple": 30}}
    finally:
        server.communicate("")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("garbage", "is not a stockapp database: file is not a database"),
        ("no version", "is not a stockapp database: no such table: alembic_version"),
        ("unknown version", "is at schema revision 'f00d', which this code does not"),
    ],
)
@pytest.mark.sqlite_only
def test_a_restore_refuses_a_file_it_cannot_trust(
    cli, seed, tmp_path, stored, damage, message
):
    seed(fruit={"apple": 30})
    bad = tmp_path / "bad.sqlite"
    if damage == "garbage":
        bad.write_bytes(os.urandom(8192))
    else:
        assert cli("backup", str(bad)).exit_code == 0
        with sqlite3.connect(bad) as connection:
            if damage == "no version":
                connection.execute("DROP TABLE alembic_version")
            else:
                connection.execute("UPDATE alembic_version SET version_num = 'f00d'")
    seed(veg={"leek": 2})
    result = cli("restore", str(bad))
    assert result.exit_code == 1
    assert message in result.output
    assert stored() == {"fruit": {"apple": 30}, "veg": {"leek": 2}}


@pytest.mark.sqlite_only
def test_an_older_backup_is_restored_and_told_to_upgrade(cli, seed, tmp_path, stored):
    seed(fruit={"apple": 30})
    backup = tmp_path / "old.sqlite"
    # A backup made by an older stockapp: the database as 0010 left it (the
    # migrations' own downgrades take it there), backed up.
    assert cli("downgrade", "0010").exit_code == 0
    assert cli("backup", str(backup)).exit_code == 0
    with sqlite3.connect(backup) as connection:
        versions = connection.execute("SELECT version_num FROM alembic_version")
        assert versions.fetchall() == [("0010",)]
    assert cli("upgrade").exit_code == 0
    result = cli("restore", str(backup))
    assert result.exit_code == 0, result.output
    assert f"The schema is behind this code ({HEAD}): run `flask db upgrade`." in (
        result.output
    )
    assert cli("upgrade").exit_code == 0
    assert stored() == {"fruit": {"apple": 30}}


@pytest.mark.sqlite_only
@pytest.mark.slow
def test_a_backup_under_concurrent_writers_holds_every_write_acknowledged_before_it(
    database_url, tmp_path
):
    """Writers keep adding members through a real 4-worker gunicorn while the
    backup runs: the backup is sound and holds, for each writer, an unbroken
    run of its writes that covers every one acknowledged before it began."""
    server = Server(database_url, tmp_path / "gunicorn.log", workers=4)
    server.start()
    writers = 4
    acknowledged: list[list[tuple[int, float]]] = [[] for _ in range(writers)]
    stop = threading.Event()

    def write(writer: int) -> None:
        number = 0
        while not stop.is_set():
            reply = server.request("PUT", f"/stock/w{writer}/m{number:06}", number)
            if reply.status == 404:  # the collection is not made yet
                reply = server.request("POST", f"/stock/w{writer}", {"m000000": 0})
            assert reply.status in (200, 201), reply.body
            acknowledged[writer].append((number, time.monotonic()))
            number += 1

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        backup = tmp_path / "live.sqlite"
        began = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "flask", "db", "backup", str(backup)],
            cwd=REPOSITORY,
            env={**os.environ, "DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        time.sleep(1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        server.stop()
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(backup) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    rows = table(backup)
    for writer in range(writers):
        kept = sorted(
            int(member[1:])
            for collection, member, _ in rows
            if collection == f"w{writer}"
        )
        # An unbroken run from the first write: a prefix, nothing skipped.
        assert kept == list(range(len(kept)))
        before = [number for number, at in acknowledged[writer] if at < began]
        assert before, "the writers had not started"
        assert len(kept) >= len(before)
        # And the writers went on after it: it ran while they wrote.
        assert len(acknowledged[writer]) > len(kept)


@pytest.mark.postgresql_only
@pytest.mark.parametrize("command", ["backup", "restore"])
def test_on_postgresql_the_commands_point_to_pg_dump(runner, tmp_path, command):
    target = tmp_path / "x.dump"
    target.write_bytes(b"")
    result = runner.invoke(args=["db", command, str(target)])
    assert result.exit_code == 1
    assert "On PostgreSQL, back up with pg_dump and restore with pg_restore" in (
        result.output
    )


def etag(client, path: str) -> str:
    return client.get(path).headers["ETag"]


@pytest.mark.sqlite_only
def test_a_restore_repeats_no_etag_a_client_may_hold(cli, client, seed, tmp_path):
    seed(fruit={"apple": 30})
    paths = ("/stock/fruit", "/stock/fruit/apple")
    backup = tmp_path / "b.sqlite"
    held = {etag(client, path) for path in paths}
    assert cli("backup", str(backup)).exit_code == 0
    # After the backup the same rows move on: more tags clients may hold.
    for delta in (1, 1, -2):
        client.post("/stock/fruit/apple/adjustments", json={"delta": delta})
        held |= {etag(client, path) for path in paths}
    assert cli("restore", str(backup)).exit_code == 0
    # The same writes again after the restore meet none of those tags.
    seen = {etag(client, path) for path in paths}
    for delta in (1, 1, -2):
        client.post("/stock/fruit/apple/adjustments", json={"delta": delta})
        seen |= {etag(client, path) for path in paths}
    assert held.isdisjoint(seen)


def test_new_etags_gives_every_row_a_new_tag(cli, client, seed):
    seed(fruit={"apple": 30}, veg={})
    paths = ("/stock/fruit", "/stock/fruit/apple", "/stock/veg")
    before = {path: etag(client, path) for path in paths}
    result = cli("new-etags")
    assert result.exit_code == 0, result.output
    assert result.output == "Every collection and member has a new ETag.\n"
    after = {path: etag(client, path) for path in paths}
    assert all(before[path] != after[path] for path in paths)
    assert client.get("/stock").get_json() == {"fruit": {"apple": 30}, "veg": {}}
