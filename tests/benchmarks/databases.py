"""A fresh database per server: SQLite files, or a durable throwaway PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cores
import psycopg
from floor_postgresql import libpq_url
from postgres_cluster import running_cluster

BACKENDS = ("sqlite", "postgresql")
# Unlike the test suite's cluster: every commit reaches the disk, as in production.
DURABLE_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
}


@dataclass(frozen=True)
class Backend:
    name: str
    # Creates an empty database with this name; returns its SQLAlchemy URL.
    create_database: Callable[[str], str]
    # The database server's root process, whose CPU is measured; None for SQLite.
    server_pid: int | None
    # Gathers the planner's statistics after a bulk load (the database's URL).
    analyze: Callable[[str], None] = lambda url: None


@contextmanager
def running_backend(name: str, workdir: Path) -> Iterator[Backend]:
    """The backend for the whole run, stopped (PostgreSQL) on the way out."""
    if name == "sqlite":
        yield Backend(
            name, lambda database: f"sqlite:///{workdir}/{database}.sqlite", None
        )
        return
    # On disk, not /dev/shm: fsync must cost what it costs.
    with running_cluster(DURABLE_SETTINGS) as cluster:
        # Its backends, forked for each connection from now on, run beside the
        # app servers, away from wrk.
        cores.pin_server(cluster.pid)

        def create_database(database: str) -> str:
            with psycopg.connect(libpq_url(cluster.url), autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{database}"')
            return cluster.url.rsplit("/", 1)[0] + f"/{database}"

        def analyze(url: str) -> None:
            # What autovacuum would do within a minute or so of the load, and an
            # operator does after one: without statistics the planner may scan
            # a 100,000-member collection for one member.
            with psycopg.connect(libpq_url(url), autocommit=True) as connection:
                connection.execute("ANALYZE")

        yield Backend(name, create_database, cluster.pid, analyze)
