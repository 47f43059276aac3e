"""What webhooks cost: inside each write, and to deliver; ``make bench-webhooks``.

1. The write cost. Two stockapp servers, served exactly as run_bench.py serves
   stockapp (gunicorn_bench.conf.py, the "main" dataset loaded through the API,
   the same environment), each on a fresh database: one without any
   subscription, one with three enabled subscriptions wanting every event type
   and every collection, made (in Python, after the load) for a URL nobody
   answers. No worker runs: the outbox only grows, and what is measured is
   what the outbox costs inside the write (building the events, and the INSERT
   ... SELECT that writes a row per subscription). Workloads: run_bench's
   patch_member and put_member, and a one-member adjustment, under wrk (8
   connections); the two servers take turns within each round, as run_bench's
   apps do. The target: with three subscriptions, requests/s at least 0.90 of
   the server without and CPU per request (the app's, plus the cluster's on
   PostgreSQL) at most 1.10 of it.
2. The worker's throughput (worker_throughput.py). ``--events`` movement events
   wait in the outbox for one subscription, then for four (four deliveries per
   event); ``flask webhooks deliver`` (4 threads, WEBHOOKS_POLL_SECONDS=0.1) is
   timed from its start until no delivery is pending, against a receiver on
   loopback that answers 200 at once; each run on a fresh database.

Medians over ``--rounds``; ``.bench/bench-webhooks-<backend>.json`` has them and
every run. Any answer that is not 2xx fails the run, as in run_bench.py.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

from paths import REPOSITORY, RESULTS, TESTS

sys.path[:0] = [str(TESTS), str(REPOSITORY)]  # gunicorn_server, stockapp

from app_server import AppServer  # noqa: E402
from apps import STOCKAPP, server_env  # noqa: E402
from databases import BACKENDS, Backend, running_backend  # noqa: E402
from datasets import DATASETS, HOT_MEMBER, seed  # noqa: E402
from guarded import run_guarded  # noqa: E402
from load import CONNECTIONS, require_wrk, run_wrk  # noqa: E402
from report import Measurement, Row, summarize  # noqa: E402
from run_bench import WARM_UP_SECONDS, measure  # noqa: E402
from sqlalchemy import text  # noqa: E402
from worker_throughput import (  # noqa: E402
    CASES,
    Drain,
    Outbox,
    drain,
    running_receiver,
)
from workloads import HOT, WORKLOADS, Workload  # noqa: E402

from stockapp import create_app  # noqa: E402
from stockapp.core.extensions import db  # noqa: E402
from stockapp.webhooks.models import EVENT_TYPES  # noqa: E402
from stockapp.webhooks.subscriptions import create_subscription  # noqa: E402
from stockapp.webhooks.validation import SubscriptionFields  # noqa: E402

DATASET = "main"
WITHOUT, WITH = "no subs", "3 subs"
SUBSCRIPTIONS = 3
# Port 9 (discard) on loopback: nothing listens, and no worker runs anyway.
DEAD_URL = "http://127.0.0.1:9/hook"
# The apps made here only write and count: they serve no request.
IN_PROCESS = {"ANONYMOUS_ACCESS": "none"}
# The target for three subscriptions.
MIN_RPS_RATIO, MAX_CPU_RATIO = 0.90, 1.10


def _versus(name: str, steps: tuple[str, ...]) -> Workload:
    return Workload(name, steps, DATASET, (WITHOUT, WITH), WITHOUT)


WRITE_WORKLOADS = [
    _versus(name, WORKLOADS[name].steps) for name in ("patch_member", "put_member")
] + [_versus("adjust_member", (f'POST {HOT}/{HOT_MEMBER}/adjustments {{"delta": 1}}',))]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="What webhooks cost inside a write, and the worker's throughput."
    )
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--duration", type=int, default=5, help="seconds per measured wrk run"
    )
    parser.add_argument(
        "--events",
        type=int,
        default=2000,
        help="events waiting for the worker in each of its runs",
    )
    parser.add_argument(
        "--part",
        choices=("writes", "worker", "both"),
        default="both",
        help="measure only the write cost, or only the worker",
    )
    return parser.parse_args(argv)


# 1. The write cost


def start_server(
    backend: Backend, label: str, workdir: Path, stack: ExitStack
) -> tuple[AppServer, str]:
    """stockapp as run_bench.py serves it, on a fresh database with the dataset."""
    url = backend.create_database(label)
    stock = DATASETS[DATASET]()
    env = {**server_env(url), **STOCKAPP.prepare(url, stock, workdir)}
    server = AppServer(label, STOCKAPP.module, env, workdir / f"{label}.log")
    stack.callback(server.stop)
    print(f"starting {label}", flush=True)
    server.start()
    seed(server, stock)
    return server, url


def subscribe(url: str, count: int) -> int:
    """``count`` subscriptions to every event of every collection, for a URL
    nobody answers; the last movement's id before them."""
    app = create_app({**IN_PROCESS, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        for _ in range(count):
            create_subscription(SubscriptionFields(DEAD_URL, EVENT_TYPES))
        last = db.session.execute(text("SELECT max(id) FROM movements")).scalar_one()
        db.session.rollback()
        db.engine.dispose()
    return last


def outbox_check(url: str, since_movement: int) -> dict[str, int]:
    """The writes made since the subscriptions, and the outbox rows they left."""
    app = create_app({**IN_PROCESS, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        movements = db.session.execute(
            text("SELECT count(*) FROM movements WHERE id > :since"),
            {"since": since_movement},
        ).scalar_one()
        rows = db.session.execute(
            text("SELECT count(*) FROM webhook_deliveries")
        ).scalar_one()
        db.session.rollback()
        db.engine.dispose()
    return {"movements": movements, "deliveries": rows}


def write_cost(
    args: argparse.Namespace, backend: Backend, workdir: Path, stack: ExitStack
) -> tuple[list[Measurement], list[Row], dict[str, int]]:
    without, _ = start_server(backend, "stockapp_no_subs", workdir, stack)
    hooked, hooked_url = start_server(backend, "stockapp_3_subs", workdir, stack)
    since = subscribe(hooked_url, SUBSCRIPTIONS)
    for server in (without, hooked):
        backend.analyze(server.env["DATABASE_URL"])
    servers = {WITHOUT: without, WITH: hooked}

    print("warming up", flush=True)
    for workload in WRITE_WORKLOADS:
        for app in workload.apps:
            run_wrk(servers[app].url, workload, WARM_UP_SECONDS)

    measurements = []
    for round_number in range(1, args.rounds + 1):
        for workload in WRITE_WORKLOADS:
            for app in workload.apps:
                measurement = measure(
                    servers[app], backend, workload, app, args.duration, round_number
                )
                measurements.append(measurement)
                print(
                    f"round {round_number}/{args.rounds} {workload.name:14} {app:8}"
                    f" {measurement.requests_per_second:8.0f} req/s",
                    flush=True,
                )
    rows = summarize(measurements, WRITE_WORKLOADS)
    return measurements, rows, outbox_check(hooked_url, since)


def total_cpu(run: Row | Measurement) -> float:
    """The app's CPU per request, plus the cluster's on PostgreSQL."""
    return run.cpu_ms_per_request + (run.db_cpu_ms_per_request or 0.0)


def verdicts(rows: list[Row], measurements: list[Measurement]) -> list[dict]:
    """Per workload, with ÷ without: requests/s and CPU per request (of the
    medians), whether they meet the target, and the same ratios round by round
    (their spread says how far this machine's noise lets the target be judged)."""
    by_key = {(row.workload, row.app): row for row in rows}
    runs = {(m.round, m.workload, m.app): m for m in measurements}
    rounds = sorted({m.round for m in measurements})
    found = []
    for workload in WRITE_WORKLOADS:
        base, hooked = by_key[workload.name, WITHOUT], by_key[workload.name, WITH]
        rps_ratio = hooked.requests_per_second / base.requests_per_second
        cpu_ratio = total_cpu(hooked) / total_cpu(base)
        pairs = [
            (runs[r, workload.name, WITH], runs[r, workload.name, WITHOUT])
            for r in rounds
        ]
        found.append(
            {
                "workload": workload.name,
                "rps_ratio": rps_ratio,
                "cpu_ratio": cpu_ratio,
                "app_cpu_ratio": hooked.cpu_ms_per_request / base.cpu_ms_per_request,
                "p50_ratio": hooked.p50_ms / base.p50_ms,
                "meets_target": rps_ratio >= MIN_RPS_RATIO
                and cpu_ratio <= MAX_CPU_RATIO,
                "rps_ratio_by_round": [
                    w.requests_per_second / wo.requests_per_second for w, wo in pairs
                ],
                "cpu_ratio_by_round": [total_cpu(w) / total_cpu(wo) for w, wo in pairs],
            }
        )
    return found


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def write_table(
    args: argparse.Namespace, rows: list[Row], ratios: list[dict], outbox: dict
) -> str:
    with_db = any(row.db_cpu_ms_per_request is not None for row in rows)
    lines = [
        f"== webhooks inside a write, {args.backend} (medians of {args.rounds}"
        f" rounds of {args.duration} s, {CONNECTIONS} connections)",
        f"{'workload':14} {'server':8} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'CPU ms/req':>10}" + (f" {'db CPU':>7}" if with_db else ""),
    ]
    for row in rows:
        line = (
            f"{row.workload:14} {row.app:8} {row.requests_per_second:8.0f}"
            f" {row.p50_ms:7.2f} {row.p99_ms:7.2f} {row.cpu_ms_per_request:10.2f}"
        )
        if with_db:
            line += f" {row.db_cpu_ms_per_request or 0:7.2f}"
        lines.append(line)
    cpu = "CPU/req (app+db)" if with_db else "CPU/req"
    lines.append(
        f"3 subs ÷ no subs (target: req/s >= {MIN_RPS_RATIO:.2f},"
        f" CPU/req <= {MAX_CPU_RATIO:.2f}):"
    )
    lines.append(
        f"  {'workload':14} {'req/s':>6} {cpu:>17} {'p50':>6}  {'verdict':17}"
        f" {'req/s by round':>14} {'CPU by round':>12}"
    )
    for ratio in ratios:
        verdict = "meets the target" if ratio["meets_target"] else "MISSES the target"
        lines.append(
            f"  {ratio['workload']:14} {ratio['rps_ratio']:6.2f}"
            f" {ratio['cpu_ratio']:17.2f} {ratio['p50_ratio']:6.2f}  {verdict:17}"
            f" {_spread(ratio['rps_ratio_by_round']):>14}"
            f" {_spread(ratio['cpu_ratio_by_round']):>12}"
        )
    lines.append(
        f"outbox of the 3-subs server: {outbox['deliveries']:,} rows for"
        f" {outbox['movements']:,} movements since subscribing"
        f" ({outbox['deliveries'] / max(outbox['movements'], 1):.2f} each)"
    )
    return "\n".join(lines)


# 2. The worker's throughput


def worker_throughput(
    args: argparse.Namespace, backend: Backend, workdir: Path, stack: ExitStack
) -> list[Drain]:
    receiver = stack.enter_context(running_receiver())
    drains = []
    for round_number in range(1, args.rounds + 1):
        for case in CASES:
            # A fresh database each run: the same outbox every time, with no
            # delivered rows before the pending ones.
            url = backend.create_database(f"worker_{round_number}_{case.subscriptions}")
            STOCKAPP.prepare(url, {}, workdir)  # migrate
            outbox = Outbox(url, case, receiver)
            try:
                expected = outbox.fill(args.events)
                backend.analyze(url)
                run = drain(
                    outbox,
                    receiver,
                    expected,
                    backend.server_pid,
                    workdir / f"worker-{case.subscriptions}.log",
                    round_number,
                )
            finally:
                outbox.close()
            drains.append(run)
            print(
                f"round {round_number}/{args.rounds} {run.case:16}"
                f" {run.deliveries:6} deliveries in {run.seconds:5.1f} s"
                f" ({run.deliveries_per_second:6.0f}/s)",
                flush=True,
            )
    return drains


def drain_summary(drains: list[Drain]) -> list[dict]:
    summary = []
    for case in CASES:
        runs = [run for run in drains if run.case == case.name]
        if not runs:
            continue
        medians = {
            field: statistics.median(getattr(run, field) for run in runs)
            for field in (
                "seconds",
                "deliveries_per_second",
                "steady_deliveries_per_second",
                "worker_cpu_ms_per_delivery",
            )
        }
        db_cpu = [run.db_cpu_ms_per_delivery for run in runs]
        medians["db_cpu_ms_per_delivery"] = (
            None if None in db_cpu else statistics.median(db_cpu)
        )
        summary.append(
            {
                "case": case.name,
                "subscriptions": case.subscriptions,
                "threads": runs[0].threads,
                "deliveries": runs[0].deliveries,
                **medians,
            }
        )
    return summary


def worker_table(args: argparse.Namespace, summary: list[dict]) -> str:
    with_db = any(row["db_cpu_ms_per_delivery"] is not None for row in summary)
    lines = [
        f"== the webhook worker, {args.backend}: {args.events:,} events per run"
        f" (medians of {args.rounds} runs)",
        f"{'case':16} {'threads':>7} {'deliveries':>10} {'seconds':>7}"
        f" {'per s':>7} {'steady/s':>8} {'worker CPU ms':>13}"
        + (f" {'db CPU':>7}" if with_db else ""),
    ]
    for row in summary:
        line = (
            f"{row['case']:16} {row['threads']:7} {row['deliveries']:10,}"
            f" {row['seconds']:7.1f} {row['deliveries_per_second']:7.0f}"
            f" {row['steady_deliveries_per_second']:8.0f}"
            f" {row['worker_cpu_ms_per_delivery']:13.2f}"
        )
        if with_db:
            line += f" {row['db_cpu_ms_per_delivery']:7.2f}"
        lines.append(line)
    lines.append(
        "per s: from the worker's start (process start-up included) until nothing"
        " is pending; steady/s and CPU (per delivery): from the first delivery on"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace, stack: ExitStack) -> None:
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
    backend = stack.enter_context(running_backend(args.backend, workdir))
    document: dict = {
        "settings": {
            "backend": args.backend,
            "rounds": args.rounds,
            "duration_s": args.duration,
            "connections": CONNECTIONS,
            "events": args.events,
            "subscriptions": SUBSCRIPTIONS,
            "target": {"min_rps_ratio": MIN_RPS_RATIO, "max_cpu_ratio": MAX_CPU_RATIO},
            "workloads": {w.name: {"steps": w.steps} for w in WRITE_WORKLOADS},
        }
    }
    tables = []
    if args.part in ("writes", "both"):
        measurements, rows, outbox = write_cost(args, backend, workdir, stack)
        ratios = verdicts(rows, measurements)
        tables.append(write_table(args, rows, ratios, outbox))
        document["writes"] = {
            "summary": [asdict(row) for row in rows],
            "ratios": ratios,
            "outbox": outbox,
            "runs": [asdict(m) for m in measurements],
        }
    if args.part in ("worker", "both"):
        drains = worker_throughput(args, backend, workdir, stack)
        summary = drain_summary(drains)
        tables.append(worker_table(args, summary))
        document["worker"] = {
            "summary": summary,
            "runs": [asdict(run) for run in drains],
        }
    print("\n\n".join(tables))
    path = RESULTS / f"bench-webhooks-{args.backend}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"written to {path}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    require_wrk()
    return run_guarded(lambda stack: run(args, stack), args.backend)


if __name__ == "__main__":
    sys.exit(main())
