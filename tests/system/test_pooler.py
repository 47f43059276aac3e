"""stockapp behind PgBouncer in transaction mode, which hands each transaction
whichever server connection is free: it works with DATABASE_PREPARED_STATEMENTS
off, and psycopg's prepared statements break it.

The tests start Debian's pgbouncer themselves, on loopback, in front of a
throwaway cluster; without the binary they are skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
from flask import Flask
from postgres_cluster import (
    MEMORY_DIR,
    TEST_SETTINGS,
    Cluster,
    cluster_owner,
    free_port,
    running_cluster,
)
from sqlalchemy import make_url, text

from stockapp import create_app
from stockapp.core.extensions import db

# Debian installs it in /usr/sbin, which a user's PATH may lack.
PGBOUNCER = shutil.which("pgbouncer") or shutil.which(
    "pgbouncer", path="/usr/sbin:/usr/local/sbin"
)

pytestmark = [
    pytest.mark.postgresql_only,
    pytest.mark.slow,
    pytest.mark.skipif(
        PGBOUNCER is None,
        reason="pgbouncer is not installed (Debian: apt-get install pgbouncer)",
    ),
]

# Two names for the cluster's database: one pooled over a few server
# connections, one over a single one (connections of two clients then take
# turns on it). As docs/postgresql.md says: the app's startup options (its
# timeouts) are ignored, the role carrying the timeouts instead, and a client
# waits for a server connection for less than gunicorn's worker timeout.
PGBOUNCER_INI = """\
[databases]
stockapp = host=127.0.0.1 port={server_port} dbname=postgres user={user} pool_size=4
single = host=127.0.0.1 port={server_port} dbname=postgres user={user} pool_size=1

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
ignore_startup_parameters = options
query_wait_timeout = 5
logfile = {directory}/pgbouncer.log
"""
START_TIMEOUT = 10


@dataclass(frozen=True)
class Pooler:
    """PgBouncer's URLs for SQLAlchemy: over four server connections, or one."""

    url: str
    single_url: str


def as_owner_of_the_cluster() -> dict[str, Any]:
    """Popen's arguments to run as the cluster's owner (pgbouncer refuses root)."""
    owner = cluster_owner()
    if owner is None:
        return {}
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}


@contextmanager
def running_pgbouncer(cluster: Cluster) -> Iterator[int]:
    """PgBouncer in transaction mode on a free loopback port, in front of
    ``cluster``; its port. Stopped on the way out."""
    directory = cluster.workdir / "pgbouncer"
    directory.mkdir()
    server = make_url(cluster.url)
    port = free_port()
    config = directory / "pgbouncer.ini"
    config.write_text(
        PGBOUNCER_INI.format(
            server_port=server.port,
            user=server.username,
            port=port,
            directory=directory,
        )
    )
    owner = cluster_owner()
    if owner:
        for path in (directory, config):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    log = directory / "pgbouncer.log"
    process = subprocess.Popen(
        [str(PGBOUNCER), str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        **as_owner_of_the_cluster(),
    )
    try:
        wait_until_listening(process, port, log)
        yield port
    finally:
        # SIGTERM: immediate shutdown (SIGINT would wait for the clients).
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_listening(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                found = log.read_text() if log.exists() else "(no log)"
                raise RuntimeError(f"pgbouncer did not start:\n{found}") from None
            time.sleep(0.05)


@pytest.fixture(scope="module")
def pooler() -> Iterator[Pooler]:
    """A migrated throwaway cluster, with PgBouncer in front."""
    in_memory = MEMORY_DIR.is_dir() and os.access(MEMORY_DIR, os.W_OK)
    with running_cluster(TEST_SETTINGS, MEMORY_DIR if in_memory else None) as cluster:
        # Migrated straight on the server, as a deployment may do.
        app = create_app({"SQLALCHEMY_DATABASE_URI": cluster.url})
        with app.app_context():
            flask_migrate.upgrade()
            for setting in ("lock_timeout = '5s'", "statement_timeout = '20s'"):
                db.session.execute(text(f"ALTER ROLE CURRENT_USER SET {setting}"))
            db.session.commit()
            db.engine.dispose()
        with running_pgbouncer(cluster) as port:
            through = make_url(cluster.url).set(port=port)
            yield Pooler(
                through.set(database="stockapp").render_as_string(),
                through.set(database="single").render_as_string(),
            )


@contextmanager
def apps(url: str, count: int, prepared: str) -> Iterator[list[Flask]]:
    """``count`` apps (as many gunicorn workers, each with its own pool) on ``url``."""
    made = [
        create_app(
            {"SQLALCHEMY_DATABASE_URI": url, "DATABASE_PREPARED_STATEMENTS": prepared}
        )
        for _ in range(count)
    ]
    try:
        yield made
    finally:
        for app in made:
            with app.app_context():
                db.engine.dispose()


# Each worker's rounds: more than psycopg's 5 executions of each statement
# before it would prepare it, on each connection.
ROUNDS = 12
WORKERS = 6


def work(app: Flask, worker: int) -> list[int]:
    """One worker's requests: rounds of a write of each kind, then rounds of two
    reads; their statuses.

    The writes come first: psycopg forgets its counts at each rollback, which
    ends every read, so only committed writes in a row get prepared.
    """
    client = app.test_client()
    writes = [
        [
            ("POST", "/stock/fruit/apple/adjustments", {"delta": 1}),
            ("PUT", f"/stock/fruit/w{worker}", round_),
        ]
        for round_ in range(1, ROUNDS + 1)
    ]
    reads = [[("GET", "/stock/fruit/apple", None), ("GET", "/stock", None)]] * ROUNDS
    return [
        client.open(path, method=method, json=body).status_code
        for requests in writes + reads
        for method, path, body in requests
    ]


def test_writes_and_reads_work_through_pgbouncer_without_prepared_statements(
    pooler,
):
    with apps(pooler.url, 3, "off") as three:
        client = three[0].test_client()
        assert client.post("/stock/fruit", json={"apple": 0}).status_code == 201
        # Two threads per app: 6 clients take turns on 4 server connections.
        with ThreadPoolExecutor(WORKERS) as pool:
            answered = list(
                pool.map(work, [three[n % 3] for n in range(WORKERS)], range(WORKERS))
            )
        # Only the first PUT of each worker creates its member (201).
        for statuses in answered:
            assert statuses == [200, 201] + [200] * (4 * ROUNDS - 2)
        assert client.get("/stock/fruit").get_json() == {
            "apple": WORKERS * ROUNDS,
            **{f"w{worker}": ROUNDS for worker in range(WORKERS)},
        }
        # Behind the pooler the timeouts are the role's (its startup options
        # are ignored).
        with three[0].app_context():
            lock = db.session.execute(text("SHOW lock_timeout")).scalar_one()
            statement = db.session.execute(text("SHOW statement_timeout")).scalar_one()
            db.session.remove()
        assert (lock, statement) == ("5s", "20s")


@pytest.mark.parametrize("prepared", ["on", "off"])
def test_prepared_statements_break_behind_pgbouncer_in_transaction_mode(
    pooler, prepared, caplog
):
    # Two workers' connections take turns on one server connection; after 5
    # writes each, psycopg prepares the same statement names there for both.
    with apps(pooler.single_url, 2, prepared) as two:
        clients = [app.test_client() for app in two]
        collection = f"/stock/veg-{prepared}"
        assert clients[0].post(collection, json={"leek": 0}).status_code == 201
        statuses = [
            client.post(f"{collection}/leek/adjustments", json={"delta": 1}).status_code
            for _ in range(8)
            for client in clients
        ]
        stored = clients[0].get(collection).get_json()
    if prepared == "on":
        assert 500 in statuses
        assert "DuplicatePreparedStatement" in caplog.text
        # A failed write stored nothing.
        assert stored == {"leek": statuses.count(200)}
    else:
        assert statuses == [200] * 16
        assert stored == {"leek": 16}
