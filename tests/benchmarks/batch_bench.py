"""What a batch saves: 100 adjustments as 100 requests, or as one POST /batch;
``make bench-batch``.

One stockapp server, served exactly as run_bench.py serves it
(gunicorn_bench.conf.py, the same environment: SQLite with synchronous=FULL, or
a durable throwaway PostgreSQL cluster), on a fresh database holding one
collection of ``--size`` members. Each round, one client on one keep-alive
connection sends ``--size`` separate ``POST /stock/bench/<m>/adjustments``
(``{"delta": 1}``, one per member, one after the other), then one ``POST
/batch`` of the same ``--size`` adjustments; each is timed from the first byte
sent to the last byte read. A warm-up round comes first and is not counted.
Prints the median times and their ratio (separate ÷ batch; the issue's target
is at least 20); ``.bench/bench-batch-<backend>.json`` has every round. Any
answer other than 200 fails the run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from paths import RESULTS, TESTS

sys.path.insert(0, str(TESTS))  # gunicorn_server, postgres_cluster

from app_server import AppServer  # noqa: E402
from apps import STOCKAPP, server_env  # noqa: E402
from databases import BACKENDS, running_backend  # noqa: E402
from guarded import run_guarded  # noqa: E402
from load import BadResponses  # noqa: E402

COLLECTION = "bench"
# The target: one batch at least this many times faster.
TARGET_RATIO = 20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="N adjustments as N requests against one POST /batch."
    )
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--size", type=int, default=100, help="adjustments per round (at most 1000)"
    )
    return parser.parse_args(argv)


def members(size: int) -> list[str]:
    return [f"m{index:04}" for index in range(size)]


class Client:
    """One keep-alive connection to the server, as a script would hold one."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def post(self, path: str, body: object) -> bytes:
        """POST ``body`` as JSON; the answer's body, which must come with 200."""
        data = json.dumps(body).encode()
        self.connection.request(
            "POST", path, body=data, headers={"Content-Type": "application/json"}
        )
        response = self.connection.getresponse()
        answer = response.read()
        if response.status != 200:
            raise BadResponses(f"POST {path} gave {response.status}: {answer[:300]!r}")
        return answer

    def close(self) -> None:
        self.connection.close()


def separate(client: Client, names: list[str]) -> float:
    """Seconds for one adjustment request per member, one after the other."""
    started = time.perf_counter()
    for name in names:
        client.post(f"/stock/{COLLECTION}/{name}/adjustments", {"delta": 1})
    return time.perf_counter() - started


def batched(client: Client, names: list[str]) -> float:
    """Seconds for one POST /batch adjusting every member."""
    body = {
        "operations": [
            {
                "op": "adjust",
                "collection": COLLECTION,
                "member": name,
                "body": {"delta": 1},
            }
            for name in names
        ]
    }
    started = time.perf_counter()
    answer = json.loads(client.post("/batch", body))
    seconds = time.perf_counter() - started
    statuses = {result["status"] for result in answer["results"]}
    if len(answer["results"]) != len(names) or statuses != {200}:
        raise BadResponses(f"the batch answered {statuses}")
    return seconds


def run(args: argparse.Namespace, stack: ExitStack) -> None:
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
    backend = stack.enter_context(running_backend(args.backend, workdir))
    url = backend.create_database("stockapp_batch")
    names = members(args.size)
    env = {**server_env(url), **STOCKAPP.prepare(url, {}, workdir)}
    server = AppServer("stockapp", STOCKAPP.module, env, workdir / "stockapp.log")
    stack.callback(server.stop)
    print("starting stockapp", flush=True)
    server.start()
    status = server.request("PUT", f"/stock/{COLLECTION}", dict.fromkeys(names, 0))
    if status != 201:
        raise RuntimeError(f"PUT /stock/{COLLECTION} gave {status}")
    backend.analyze(url)
    client = Client(server.port)
    stack.callback(client.close)
    print("warming up", flush=True)
    separate(client, names)
    batched(client, names)
    rounds = []
    for number in range(1, args.rounds + 1):
        apart, together = separate(client, names), batched(client, names)
        rounds.append({"separate_s": apart, "batch_s": together})
        print(
            f"round {number}/{args.rounds}: {args.size} requests"
            f" {apart * 1000:8.1f} ms, one batch {together * 1000:7.1f} ms,"
            f" {apart / together:5.1f}×",
            flush=True,
        )
    apart = statistics.median(r["separate_s"] for r in rounds)
    together = statistics.median(r["batch_s"] for r in rounds)
    ratio = apart / together
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(
        f"== {args.size} adjustments, {args.backend} (medians of {args.rounds}"
        f" rounds)\n"
        f"{args.size} separate requests: {apart * 1000:8.1f} ms"
        f" ({apart / args.size * 1000:.2f} ms each)\n"
        f"one POST /batch:        {together * 1000:8.1f} ms"
        f" ({together / args.size * 1000:.3f} ms per operation)\n"
        f"ratio: {ratio:.1f}× ({verdict} the target of {TARGET_RATIO}×)"
    )
    path = RESULTS / f"bench-batch-{args.backend}.json"
    path.parent.mkdir(exist_ok=True)
    document = {
        "settings": {
            "backend": args.backend,
            "rounds": args.rounds,
            "size": args.size,
            "target_ratio": TARGET_RATIO,
        },
        "median_separate_s": apart,
        "median_batch_s": together,
        "ratio": ratio,
        "rounds": rounds,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"written to {path}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_guarded(lambda stack: run(args, stack), args.backend)


if __name__ == "__main__":
    sys.exit(main())
