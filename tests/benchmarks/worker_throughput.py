"""How fast ``flask webhooks deliver`` empties the outbox (webhooks_bench.py).

A loopback receiver answers 200 at once and counts; a database holds
subscriptions to it and a collection of ``events`` members created in one
unit of work (a movement.created event each, so ``events`` deliveries per
subscription); the worker runs as a real process, as `make run` starts it,
and is timed from its start until no delivery is pending.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from apps import server_env
from paths import REPOSITORY
from procfs import tree_cpu_seconds
from sqlalchemy import text

from stockapp import create_app
from stockapp.core.extensions import db
from stockapp.stock import units
from stockapp.webhooks.models import EVENT_TYPES
from stockapp.webhooks.subscriptions import create_subscription
from stockapp.webhooks.validation import SubscriptionFields

# The worker's settings: loopback receivers allowed, and a short idle poll so
# that its start is not a second of waiting.
WORKER_ENV = {
    "FLASK_APP": "wsgi",
    "WEBHOOKS_ALLOW_PRIVATE": "1",
    "WEBHOOKS_POLL_SECONDS": "0.1",
}
POLL_SECONDS = 0.05
DRAIN_TIMEOUT_S = 600
STOP_TIMEOUT_S = 15
PENDING = text("SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'")
NOT_DELIVERED = text(
    "SELECT count(*) FROM webhook_attempts WHERE outcome <> 'delivered'"
)


class Receiver:
    """Counts the POSTs it answers 200, on a free loopback port."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver.lock:
                    receiver.count += 1

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def received(self) -> int:
        with self.lock:
            return self.count


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join()


@dataclass(frozen=True)
class Case:
    name: str
    subscriptions: int


CASES = (Case("1 subscription", 1), Case("4 subscriptions", 4))


@dataclass(frozen=True)
class Drain:
    """One timed run of the worker over a full outbox."""

    round: int
    case: str
    subscriptions: int
    threads: int
    deliveries: int
    # From the worker's start (process start-up included) to an empty outbox.
    seconds: float
    deliveries_per_second: float
    # From the first delivery received to the last: the steady rate.
    steady_deliveries_per_second: float
    # The worker process's CPU over the steady part, per delivery.
    worker_cpu_ms_per_delivery: float
    # The PostgreSQL cluster's (None on SQLite).
    db_cpu_ms_per_delivery: float | None


class Outbox:
    """A database of the case's subscriptions to ``receiver``, filled on demand."""

    def __init__(self, database_url: str, case: Case, receiver: Receiver) -> None:
        self.url = database_url
        self.case = case
        self.app = create_app(
            {"ANONYMOUS_ACCESS": "none", "SQLALCHEMY_DATABASE_URI": database_url}
        )
        with self.app.app_context():
            for _ in range(case.subscriptions):
                create_subscription(SubscriptionFields(receiver.url, EVENT_TYPES))

    def fill(self, events: int) -> int:
        """``events`` movement.created events in one write; the deliveries made."""
        members = {f"m{index:05}": index for index in range(events)}
        with self.app.app_context():
            written = units.create_collection("load", members)
            assert written is not None, "the load collection exists already"
        return events * self.case.subscriptions

    def _count(self, statement: Any) -> int:
        with self.app.app_context(), db.engine.connect() as connection:
            return connection.execute(statement).scalar_one()

    def pending(self) -> int:
        return self._count(PENDING)

    def failed_attempts(self) -> int:
        return self._count(NOT_DELIVERED)

    def close(self) -> None:
        with self.app.app_context():
            db.engine.dispose()


def drain(
    outbox: Outbox,
    receiver: Receiver,
    expected: int,
    db_pid: int | None,
    log: Path,
    round_number: int,
) -> Drain:
    """Start the worker, wait until the outbox has nothing pending, stop it."""
    threads = int(os.environ.get("WEBHOOKS_WORKER_THREADS", 4))
    received_before = receiver.received()
    with log.open("ab") as out:
        started = time.monotonic()
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "webhooks", "deliver"],
            cwd=REPOSITORY,
            env={**server_env(outbox.url), **WORKER_ENV},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        first = None  # (time, worker CPU, db CPU, received) at the first delivery
        while True:
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited: see {log}")
            now = time.monotonic()
            if now - started > DRAIN_TIMEOUT_S:
                raise RuntimeError(f"the outbox was not drained: see {log}")
            received = receiver.received() - received_before
            if first is None and received:
                first = _sample(now, worker.pid, db_pid, received)
            if received >= expected and outbox.pending() == 0:
                last = _sample(time.monotonic(), worker.pid, db_pid, received)
                break
            time.sleep(POLL_SECONDS)
    finally:
        _stop(worker)
    if last[3] != expected:
        raise RuntimeError(f"{expected} deliveries, but the receiver got {last[3]}")
    if failed := outbox.failed_attempts():
        raise RuntimeError(f"{failed} attempts were not delivered: see {log}")
    assert first is not None
    steady = last[0] - first[0]
    sent = last[3] - first[3]
    return Drain(
        round=round_number,
        case=outbox.case.name,
        subscriptions=outbox.case.subscriptions,
        threads=threads,
        deliveries=expected,
        seconds=last[0] - started,
        deliveries_per_second=expected / (last[0] - started),
        steady_deliveries_per_second=sent / steady,
        worker_cpu_ms_per_delivery=(last[1] - first[1]) * 1000 / sent,
        db_cpu_ms_per_delivery=((last[2] - first[2]) * 1000 / sent if db_pid else None),
    )


def _sample(
    now: float, worker_pid: int, db_pid: int | None, received: int
) -> tuple[float, float, float, int]:
    db_cpu = tree_cpu_seconds(db_pid) if db_pid else 0.0
    return now, tree_cpu_seconds(worker_pid), db_cpu, received


def _stop(worker: subprocess.Popen) -> None:
    """SIGTERM (the worker finishes its deliveries in flight), then SIGKILL."""
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
