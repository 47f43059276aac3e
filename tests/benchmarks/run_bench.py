"""stockapp under load, beside the floor and a dict app; ``make bench``.

What is measured: each workload is driven by wrk (8 connections, a thread each)
against apps served by the same gunicorn command and settings
(gunicorn_bench.conf.py: gthread, 2 workers x 4 threads) on loopback. For each of
``--rounds`` rounds every workload runs on every app in turn, so drift on the
machine hits all apps alike; a one-second warm-up of each comes first. Per run:
requests/s, p50 and p99 latency (wrk's), and CPU ms per request, the user+system
time of the app's gunicorn master and workers (from /proc) over the requests
completed; on PostgreSQL also the cluster's processes' CPU ("db CPU"; on SQLite
the database's work is inside the app's processes). The table gives the median
over rounds; ``.bench/bench-<backend>.json`` has the medians and every run. Any
answer that is not 2xx fails the run: a fast benchmark of error pages is worthless.

The floors:
- floor (floor_app.py): the same routes in plain Flask over hand-written SQL
  (sqlite3 in WAL with synchronous=FULL and BEGIN IMMEDIATE, or psycopg), a
  connection per thread, one transaction per write; no ORM, no history, no ETags,
  no access control. What a durable Flask JSON API cannot go below.
- dict (dict_app.py): GET /stock from a Python dict through flask.jsonify; what
  Flask and JSON cost with no database at all.

Reading the ratios: "ratio" is stockapp's requests/s divided by the floor's
(get_stock: by the dict app's; the floor's row there is for information). 1.00
means stockapp costs nothing beyond the floor; 0.50 means it serves half as many
requests. The scaling lines divide stockapp's numbers in a 100,000-member
collection by those in a 3-member one: near 1 for requests/s and p50 means a
single-member write does not depend on the collection's size.

Datasets (datasets.py) are loaded through each app's own API: 100 collections of
100 members (fruit/apple among them) for the compared workloads, and a separate
database with the 3- and 100,000-member collections for scaling.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from paths import RESULTS, TESTS

sys.path.insert(0, str(TESTS))  # gunicorn_server, postgres_cluster

import cores  # noqa: E402
from app_server import AppServer  # noqa: E402
from apps import (  # noqa: E402
    APPS,
    AUTHORIZATION,
    STOCKAPP_TOKEN,
    server_env,
    started_redis,
)
from databases import BACKENDS, Backend, running_backend  # noqa: E402
from datasets import DATASETS, seed  # noqa: E402
from guarded import run_guarded  # noqa: E402
from load import CONNECTIONS, require_wrk, run_wrk  # noqa: E402
from procfs import tree_cpu_seconds  # noqa: E402
from report import (  # noqa: E402
    Measurement,
    scaling_ratios,
    summarize,
    table,
    write_json,
)
from workloads import WORKLOADS, Workload  # noqa: E402

WARM_UP_SECONDS = 1

Servers = dict[tuple[str, str], AppServer]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="stockapp against the floor and a dict app, under wrk."
    )
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--duration", type=int, default=5, help="seconds per measured run"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=list(WORKLOADS),
        metavar="WORKLOAD",
        help=f"run only this workload (repeatable): {', '.join(WORKLOADS)}",
    )
    return parser.parse_args(argv)


def start_servers(
    backend: Backend, workloads: list[Workload], workdir: Path, stack: ExitStack
) -> Servers:
    """One server per app and dataset the workloads need, each on a fresh
    database loaded with its dataset."""
    servers: Servers = {}
    for workload in workloads:
        for app_name in workload.apps:
            key = (app_name, workload.dataset)
            if key in servers:
                continue
            app, stock = APPS[app_name], DATASETS[workload.dataset]()
            label = f"{app_name}-{workload.dataset}"
            url = (
                backend.create_database(label.replace("-", "_"))
                if app.uses_database
                else ""
            )
            env = {**server_env(url), **app.prepare(url, stock, workdir)}
            if app is STOCKAPP_TOKEN:
                env["RATELIMIT_STORAGE_URI"] = started_redis(stack)
            server = AppServer(label, app.module, env, workdir / f"{label}.log")
            stack.callback(server.stop)
            print(f"starting {label}", flush=True)
            server.start()
            if app.seeded_over_http:
                seed(server, stock)
            if app.uses_database:
                backend.analyze(url)
            servers[key] = server
    return servers


def measure(
    server: AppServer,
    backend: Backend,
    workload: Workload,
    app: str,
    seconds: int,
    round_number: int,
) -> Measurement:
    """Run the workload once; its numbers and the CPU it cost per request."""

    def cpu() -> tuple[float, float]:
        db = tree_cpu_seconds(backend.server_pid) if backend.server_pid else 0.0
        return tree_cpu_seconds(server.pid), db

    app_before, db_before = cpu()
    result = run_wrk(server.url, workload, seconds, server.env.get(AUTHORIZATION))
    app_after, db_after = cpu()
    per_request = 1000 / result.requests
    return Measurement(
        round=round_number,
        workload=workload.name,
        app=app,
        requests=result.requests,
        requests_per_second=result.requests_per_second,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        cpu_ms_per_request=(app_after - app_before) * per_request,
        db_cpu_ms_per_request=(
            (db_after - db_before) * per_request if backend.server_pid else None
        ),
    )


def run(args: argparse.Namespace, stack: ExitStack) -> None:
    workloads = [WORKLOADS[name] for name in args.only or WORKLOADS]
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
    backend = stack.enter_context(running_backend(args.backend, workdir))
    servers = start_servers(backend, workloads, workdir, stack)

    print("warming up", flush=True)
    for workload in workloads:
        for app in workload.apps:
            server = servers[app, workload.dataset]
            run_wrk(
                server.url, workload, WARM_UP_SECONDS, server.env.get(AUTHORIZATION)
            )

    measurements = []
    for round_number in range(1, args.rounds + 1):
        for workload in workloads:
            for app in workload.apps:
                server = servers[app, workload.dataset]
                measurement = measure(
                    server, backend, workload, app, args.duration, round_number
                )
                measurements.append(measurement)
                print(
                    f"round {round_number}/{args.rounds} {workload.name:16} {app:9}"
                    f" {measurement.requests_per_second:8.0f} req/s",
                    flush=True,
                )

    rows = summarize(measurements, workloads)
    scaling = scaling_ratios(rows)
    print(table(args.backend, rows, scaling))
    print(cores.described())
    settings = {
        "backend": args.backend,
        "rounds": args.rounds,
        "duration_s": args.duration,
        "connections": CONNECTIONS,
        "cores": cores.described(),
        "workloads": {w.name: {"steps": w.steps, "apps": w.apps} for w in workloads},
    }
    path = RESULTS / f"bench-{args.backend}.json"
    write_json(path, settings, measurements, rows, scaling)
    print(f"written to {path}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    require_wrk()
    return run_guarded(lambda stack: run(args, stack), args.backend)


if __name__ == "__main__":
    sys.exit(main())
