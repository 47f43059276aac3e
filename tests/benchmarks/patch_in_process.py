"""A one-member PATCH in process: stockapp's CPU beside the floor's.

No server, no network and no other thread: each app's WSGI callable is called
directly, in blocks of ``--requests`` PATCHes of ``/stock/fruit`` (one member
of 101), the two apps alternated block by block so that drift in the machine
reaches both alike. Prints each app's 10th percentile and median of CPU µs per
PATCH (``time.process_time``) over ``--blocks`` blocks, and their ratio: what
the write itself costs each, without gunicorn or the waits of concurrent
writers (which ``make bench`` has).

    .venv/bin/python tests/benchmarks/patch_in_process.py [--synchronous OFF]

SQLite only; ``--synchronous`` is both apps' (FULL, the default, is what
``make bench`` runs: a commit waits for its fsync; OFF leaves the Python).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paths import REPOSITORY

SEED = {f"m{i}": i for i in range(100)} | {"apple": 1}

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


def call(app: WsgiApp, method: str, path: str, body: bytes) -> str:
    """One request through ``app``; its status line (the body read whole)."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    statuses: list[str] = []
    b"".join(app(environ, lambda status, headers, *_: statuses.append(status)))
    return statuses[0]


def floor_app(workdir: Path, synchronous: str) -> WsgiApp:
    url = f"sqlite:///{workdir}/floor.sqlite"
    os.environ["DATABASE_URL"] = url
    import floor_sqlite
    import floor_store

    floor_store.create_schema(url)
    connect = floor_sqlite.connect

    def connect_at_level(path: str) -> Any:
        connection = connect(path)
        connection.execute(f"PRAGMA synchronous = {synchronous}")
        return connection

    floor_sqlite.connect = connect_at_level
    import floor_app as floor

    return floor.app


def stockapp(workdir: Path, synchronous: str) -> WsgiApp:
    os.environ.update(
        STOCKAPP_CONFIG="development",
        ANONYMOUS_ACCESS="write",
        SQLITE_SYNCHRONOUS=synchronous,
        DATABASE_URL=f"sqlite:///{workdir}/stockapp.sqlite",
    )
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=REPOSITORY,
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(REPOSITORY))
    from wsgi import app

    return app


def patches(app: WsgiApp, count: int, start: int) -> float:
    """CPU µs per PATCH over ``count`` PATCHes, each a new quantity."""
    began = time.process_time()
    for n in range(start, start + count):
        status = call(app, "PATCH", "/stock/fruit", b'{"apple": %d}' % n)
        if not status.startswith("200"):
            raise SystemExit(f"PATCH answered {status}")
    return (time.process_time() - began) / count * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synchronous", choices=("FULL", "OFF"), default="FULL")
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        apps = {
            "floor": floor_app(workdir, args.synchronous),
            "stockapp": stockapp(workdir, args.synchronous),
        }
        seed = json.dumps(SEED).encode()
        for app in apps.values():
            if not call(app, "PUT", "/stock/fruit", seed).startswith("201"):
                raise SystemExit("could not seed /stock/fruit")
            patches(app, args.requests, 10_000)  # warm
        costs: dict[str, list[float]] = {name: [] for name in apps}
        for block in range(args.blocks):
            for name, app in apps.items():
                costs[name].append(patches(app, args.requests, block * args.requests))
    summary = {}
    for name, values in costs.items():
        values.sort()
        summary[name] = (values[len(values) // 10], statistics.median(values))
        print(f"{name:9s} CPU µs per PATCH: p10 {summary[name][0]:.0f}, median"
              f" {summary[name][1]:.0f}")  # fmt: skip
    ratio = summary["floor"][0] / summary["stockapp"][0]
    print(f"floor ÷ stockapp (p10, SQLite synchronous={args.synchronous}): {ratio:.2f}")


if __name__ == "__main__":
    main()
