"""Throughput and latency under gunicorn on loopback; run with `make bench`.

Not a test: it asserts nothing about time (machines are noisy). It prints, per
scenario, requests per second and latency percentiles, plus the SQL statements
one request of each kind sends.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(TESTS), str(TESTS.parent)]

from gunicorn_server import Server  # noqa: E402

COLLECTIONS = 100
MEMBERS = 10


def seed(server: Server) -> None:
    for c in range(COLLECTIONS):
        body = {f"m{m}": 1_000_000 for m in range(MEMBERS)}
        assert server.request("PUT", f"/stock/c{c}", body).status == 201


def scenarios(server: Server):
    return {
        "GET /stock (100x10)": lambda i: server.request("GET", "/stock"),
        "GET /stock/<c>": lambda i: server.request("GET", f"/stock/c{i % COLLECTIONS}"),
        "GET /stock/<c>/<m>": lambda i: server.request(
            "GET", f"/stock/c{i % COLLECTIONS}/m{i % MEMBERS}"
        ),
        "PUT /stock/<c>/<m>": lambda i: server.request(
            "PUT", f"/stock/c{i % COLLECTIONS}/m{i % MEMBERS}", i
        ),
        "PATCH /stock/<c> (5 members)": lambda i: server.request(
            "PATCH", f"/stock/c{i % COLLECTIONS}", {f"m{k}": i for k in range(5)}
        ),
        "POST adjustments (1 hot member)": lambda i: server.request(
            "POST", "/stock/c0/m0/adjustments", {"delta": -1}
        ),
    }


def measure(call, requests: int, threads: int) -> tuple[float, list[float], int]:
    def timed(i):
        start = time.perf_counter()
        reply = call(i)
        return time.perf_counter() - start, reply.status

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(timed, range(requests)))
    elapsed = time.perf_counter() - start
    errors = sum(1 for _, status in results if status >= 500)
    return requests / elapsed, sorted(t for t, _ in results), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite"
        if not args.database_url:
            import flask_migrate

            from stockapp import create_app

            with create_app({"SQLALCHEMY_DATABASE_URI": url}).app_context():
                flask_migrate.upgrade()
        server = Server(url, Path(tmp) / "gunicorn.log", workers=args.workers)
        server.start()
        try:
            seed(server)
            print(
                f"gunicorn {args.workers} workers, {args.threads} client threads,"
                f" {args.requests} requests per scenario, {url.split(':')[0]}"
            )
            print(
                f"{'scenario':34} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'5xx':>4}"
            )
            for name, call in scenarios(server).items():
                rate, times, errors = measure(call, args.requests, args.threads)
                p50 = statistics.median(times) * 1000
                p95 = times[int(len(times) * 0.95) - 1] * 1000
                print(f"{name:34} {rate:8.0f} {p50:8.1f} {p95:8.1f} {errors:4}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
