"""The apps under load: stockapp, the floor and the dict app, served alike."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import floor_store
from paths import REPOSITORY
from redis_server import RedisServer

# Settings every server gets, whatever the app reads of them.
COMMON_ENV = {
    "STOCKAPP_CONFIG": "development",
    "ANONYMOUS_ACCESS": "write",
    "SQLITE_SYNCHRONOUS": "FULL",
    "DATABASE_POOL_SIZE": "4",
    # The 100,000-member collection is seeded in one PUT of about 2 MB.
    "MAX_CONTENT_LENGTH": str(64 * 1024 * 1024),
}

# Prepares an empty database (or file) for the app; returns extra environment.
Prepare = Callable[[str, dict, Path], dict[str, str]]


@dataclass(frozen=True)
class App:
    name: str
    module: str  # gunicorn serves "<module>:app"
    prepare: Prepare
    seeded_over_http: bool
    uses_database: bool = True


def migrate_stockapp(database_url: str, stock: dict, workdir: Path) -> dict[str, str]:
    """Run stockapp's migrations, as its deployment does before serving."""
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=REPOSITORY,
        env=server_env(database_url),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return {}


# The token app's server environment carries its token here, for wrk's requests.
AUTHORIZATION = "BENCH_AUTHORIZATION"


def _flask(database_url: str, *args: str, given: str = "") -> str:
    """Run ``flask <args>`` on stockapp over this database; its standard output."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=REPOSITORY,
        env=server_env(database_url),
        input=given,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def migrate_and_give_a_token(
    database_url: str, stock: dict, workdir: Path
) -> dict[str, str]:
    """stockapp migrated, with a clerk's read token that every request sends,
    and its rate-limit counters in a Redis of the run's own (started by
    run_bench when a workload needs this app)."""
    migrate_stockapp(database_url, stock, workdir)
    _flask(database_url, "users", "create", "bench", "--role", "clerk",
           "--password-stdin", given="a bench password, never used\n")  # fmt: skip
    secret = _flask(
        database_url, "tokens", "create", "--user", "bench", "--label", "bench",
        "--scope", "read",
    ).strip()  # fmt: skip
    return {AUTHORIZATION: f"Bearer {secret}"}


def started_redis(stack: ExitStack) -> str:
    """The URL of a redis-server of the run's own (the token app's rate-limit
    counters), stopped with the servers."""
    redis = RedisServer()
    stack.callback(redis.stop)
    redis.start()
    return redis.url


def create_floor_schema(
    database_url: str, stock: dict, workdir: Path
) -> dict[str, str]:
    floor_store.create_schema(database_url)
    return {}


def write_dict_stock(database_url: str, stock: dict, workdir: Path) -> dict[str, str]:
    """The dict app loads its stock from a file at import (see dict_app)."""
    path = workdir / "dict-stock.json"
    path.write_text(json.dumps(stock))
    return {"DICT_APP_STOCK": str(path)}


def server_env(database_url: str) -> dict[str, str]:
    """The environment of a server (and its migrations) on this database."""
    return {**os.environ, **COMMON_ENV, "DATABASE_URL": database_url}


STOCKAPP = App("stockapp", "wsgi", migrate_stockapp, seeded_over_http=True)
# The same stockapp, read with a token (its limits held in Redis).
STOCKAPP_TOKEN = App(
    "stockapp_token", "wsgi", migrate_and_give_a_token, seeded_over_http=True
)
FLOOR = App("floor", "floor_app", create_floor_schema, seeded_over_http=True)
DICT = App(
    "dict", "dict_app", write_dict_stock, seeded_over_http=False, uses_database=False
)
APPS = {app.name: app for app in (STOCKAPP, STOCKAPP_TOKEN, FLOOR, DICT)}
