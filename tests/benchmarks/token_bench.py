"""What a bearer token costs a member read, measured on one server.

``make bench``'s get_member_token compares two servers (one read anonymously,
one with a token), so their ratio carries the noise of two processes. Here one
stockapp server, set up as the token app is (a clerk's read token, rate-limit
counters in a Redis of the run's own), is loaded by wrk with the same read,
anonymous and with the token in turn, ``--pairs`` times; the CPU ms per
request of its gunicorn processes (from /proc) are compared, and so are the
requests/s. wrk and the server are pinned apart as in ``make bench``.

    .venv/bin/python tests/benchmarks/token_bench.py [--backend postgresql] [--pairs 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from paths import TESTS

sys.path.insert(0, str(TESTS))

import cores  # noqa: E402
from app_server import AppServer  # noqa: E402
from apps import (  # noqa: E402
    AUTHORIZATION,
    STOCKAPP_TOKEN,
    server_env,
    started_redis,
)
from databases import BACKENDS, running_backend  # noqa: E402
from datasets import DATASETS, seed  # noqa: E402
from guarded import run_guarded  # noqa: E402
from load import require_wrk, run_wrk  # noqa: E402
from procfs import tree_cpu_seconds  # noqa: E402
from workloads import WORKLOADS  # noqa: E402

WORKLOAD = WORKLOADS["get_member_token"]
SECONDS = 5
WARM_UP_SECONDS = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=sorted(BACKENDS), default="sqlite")
    parser.add_argument("--pairs", type=int, default=6)
    return parser.parse_args(argv)


def run(args: argparse.Namespace, stack: ExitStack) -> None:
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
    backend = stack.enter_context(running_backend(args.backend, workdir))
    stock = DATASETS[WORKLOAD.dataset]()
    url = backend.create_database("token_toll")
    env = {**server_env(url), **STOCKAPP_TOKEN.prepare(url, stock, workdir)}
    env["RATELIMIT_STORAGE_URI"] = started_redis(stack)
    server = AppServer("token-toll", "wsgi", env, workdir / "token-toll.log")
    stack.callback(server.stop)
    server.start()
    seed(server, stock)
    backend.analyze(url)

    callers = {"anonymous": None, "token": env[AUTHORIZATION]}
    for authorization in callers.values():
        run_wrk(server.url, WORKLOAD, WARM_UP_SECONDS, authorization)
    cpu: dict[str, list[float]] = {caller: [] for caller in callers}
    rate: dict[str, list[float]] = {caller: [] for caller in callers}
    for _ in range(args.pairs):
        for caller, authorization in callers.items():
            before = tree_cpu_seconds(server.pid)
            result = run_wrk(server.url, WORKLOAD, SECONDS, authorization)
            spent = tree_cpu_seconds(server.pid) - before
            cpu[caller].append(spent * 1000 / result.requests)
            rate[caller].append(result.requests_per_second)

    print(f"== {args.backend}, one server, {args.pairs} pairs of {SECONDS} s")
    for caller in callers:
        print(
            f"{caller:9} CPU ms/request {statistics.median(cpu[caller]):.3f}"
            f" ({min(cpu[caller]):.3f}–{max(cpu[caller]):.3f}),"
            f" req/s {statistics.median(rate[caller]):.0f}"
        )
    ratios = [a / t for a, t in zip(cpu["anonymous"], cpu["token"], strict=True)]
    added = statistics.median(cpu["token"]) - statistics.median(cpu["anonymous"])
    print(
        f"token ÷ anonymous, by CPU per request: {statistics.median(ratios):.2f}"
        f" (pairs {min(ratios):.2f}–{max(ratios):.2f});"
        f" the token adds {added:.3f} ms"
    )
    print(cores.described())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    require_wrk()
    return run_guarded(lambda stack: run(args, stack), args.backend)


if __name__ == "__main__":
    sys.exit(main())
