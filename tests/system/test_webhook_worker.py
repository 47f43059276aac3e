"""The webhooks end to end: gunicorn takes a burst of concurrent writes, the
worker runs as `flask webhooks deliver` in processes of its own, and real
receivers on loopback verify every delivery with the standardwebhooks package.
A worker killed with SIGKILL loses nothing; two workers never send one
delivery twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from itertools import pairwise
from pathlib import Path

import pytest
from gunicorn_server import REPOSITORY, Server
from sqlalchemy import text
from webhook_receiver import Receiver, running_receiver

from stockapp.core.extensions import db
from stockapp.webhooks import subscriptions
from stockapp.webhooks.validation import SubscriptionFields

pytestmark = pytest.mark.slow
LEVEL = 90

# A lease short enough that a restarted worker takes over within the test.
WORKER_SETTINGS = {
    "WEBHOOKS_ALLOW_PRIVATE": "1",
    "WEBHOOKS_LEASE_SECONDS": "3",
    "WEBHOOKS_CONNECT_TIMEOUT": "1",
    "WEBHOOKS_ANSWER_TIMEOUT": "1",
    "WEBHOOKS_POLL_SECONDS": "0.1",
}


class WorkerProcess:
    """`flask webhooks deliver` over the test's database."""

    def __init__(self, database_url: str, log: Path) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "STOCKAPP_CONFIG": "development",
            "FLASK_APP": "wsgi",
            **WORKER_SETTINGS,
        }
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flask", "webhooks", "deliver"],
                cwd=REPOSITORY,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=20)


@pytest.fixture
def workers(database_url, tmp_path):
    started: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        started.append(WorkerProcess(database_url, tmp_path / "worker.log"))
        return started[-1]

    yield start
    for worker in started:
        worker.kill(signal.SIGTERM)
    assert "Traceback" not in (tmp_path / "worker.log").read_text()


@pytest.fixture
def receivers():
    with ExitStack() as stack:
        yield lambda: stack.enter_context(running_receiver())


def subscribe(app, receiver: Receiver, events=("movement.created",), **fields) -> int:
    with app.app_context():
        made = subscriptions.create_subscription(
            SubscriptionFields(receiver.url, tuple(events), **fields)
        )
    receiver.secrets.append(made.secret)
    return made.subscription["id"]


def pending(app) -> int:
    with app.app_context():
        count = db.session.execute(
            text("SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'")
        ).scalar_one()
        db.session.rollback()
    return count


def wait_until(condition, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def movements(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(
            text(
                'SELECT id, collection, member, kind, "before", "after" FROM movements'
                " ORDER BY id"
            )
        ).all()
        db.session.rollback()
    return [tuple(row) for row in rows]


def test_a_burst_of_writes_arrives_exactly_verified_and_in_order(
    app, database_url, tmp_path, workers, receivers
):
    every, low = receivers(), receivers()
    subscribe(app, every)
    subscribe(app, low, events=("member.low",), collections=("c0", "c1"))
    server = Server(database_url, tmp_path / "gunicorn.log", env=WORKER_SETTINGS)
    server.start()
    try:
        for number in range(4):
            assert server.request("POST", f"/stock/c{number}", {"m": 100}).status == 201
            path = f"/stock/c{number}/m/reorder-level"
            level = server.request("PUT", path, LEVEL)
            assert level.status == 200
        workers()

        def write(number: int) -> int:
            collection = f"c{number % 4}"
            if number % 10 == 7:
                # Refused (below 0): rolled back, announces nothing.
                path = f"/stock/{collection}/m/adjustments"
                return server.request("POST", path, {"delta": -10_000}).status
            if number % 10 == 9:
                # A failed PUT (stale ETag): rolled back too.
                headers = {"If-Match": '"1"'}
                return server.request(
                    "PUT", f"/stock/{collection}/m", 1, headers
                ).status
            # Down 4, up 2, in turn: each collection ends near 60, crossing
            # its level of 90 at least once, maybe back and forth.
            delta = -4 if (number // 4) % 2 else 2
            path = f"/stock/{collection}/m/adjustments"
            return server.request("POST", path, {"delta": delta}).status

        with ThreadPoolExecutor(8) as pool:
            statuses = Counter(pool.map(write, range(200)))
        assert statuses == {200: 160, 409: 20, 412: 20}
    finally:
        server.stop()
    logged = movements(app)
    # Each collection's creation and level change, and the writes that held.
    assert len(logged) == 4 + 4 + 160
    wait_until(lambda: every.count() >= len(logged) and pending(app) == 0, what="all")
    time.sleep(0.5)  # nothing more may come
    assert all(received.verified for received in every.received + low.received)
    data = [event["data"] for event in every.events()]
    # Exactly the committed movements, each once.
    assert (
        sorted(
            (
                d["movement_id"],
                d["collection"],
                d["member"],
                d["kind"],
                d["before"],
                d["after"],
            )
            for d in data
        )
        == logged
    )
    # In commit order for each collection: each starts where the last ended.
    for number in range(4):
        chain = [d for d in data if d["collection"] == f"c{number}"]
        assert [d["movement_id"] for d in chain] == sorted(
            d["movement_id"] for d in chain
        )
        assert all(b["before"] == a["after"] for a, b in pairwise(chain))
    # One member.low per crossing, only for the collections asked for, in
    # each collection's order.
    crossings = [
        (d["collection"], d["movement_id"])
        for d in data
        if d["collection"] in ("c0", "c1")
        and d["before"] is not None
        and d["before"] > LEVEL >= d["after"]
    ]
    announced = [
        (e["data"]["collection"], e["data"]["movement_id"]) for e in low.events()
    ]
    assert sorted(announced) == sorted(crossings)
    assert {collection for collection, _ in announced} == {"c0", "c1"}
    for collection in ("c0", "c1"):
        ids = [movement for name, movement in announced if name == collection]
        assert ids == sorted(ids)


def test_a_killed_worker_loses_nothing_and_repeats_only_what_was_in_flight(
    app, client, workers, receivers
):
    receiver = receivers()

    def slow(_received) -> int:
        time.sleep(0.03)
        return 200

    receiver.answer = slow
    subscribe(app, receiver)
    for number in range(60):
        assert client.post(f"/stock/c{number}", json={"m": number}).status_code == 201
    first = workers()
    wait_until(lambda: receiver.count() >= 15, what="the first deliveries")
    first.kill(signal.SIGKILL)
    killed_at = receiver.count()
    assert killed_at < 60
    workers()  # takes over once the dead one's lease runs out (3 s)
    wait_until(lambda: pending(app) == 0, what="the rest")
    ids = [received.headers["webhook-id"] for received in receiver.received]
    assert all(received.verified for received in receiver.received)
    # Nothing lost: every event arrived.
    assert len(set(ids)) == 60
    # Repeated: at most the one delivery in flight when the worker died (one
    # subscription is served by one thread at a time), with its own id.
    repeated = [event_id for event_id, count in Counter(ids).items() if count > 1]
    assert len(repeated) <= 1
    assert all(Counter(ids)[event_id] == 2 for event_id in repeated)
    bodies = {}
    for received in receiver.received:
        bodies.setdefault(received.headers["webhook-id"], set()).add(received.body)
    assert all(len(found) == 1 for found in bodies.values())


def test_two_workers_deliver_each_event_once(app, client, workers, receivers):
    hooks = [receivers() for _ in range(4)]
    for receiver in hooks:
        subscribe(app, receiver)
    workers()
    workers()
    for number in range(40):
        assert client.post(f"/stock/c{number}", json={"m": number}).status_code == 201
    wait_until(
        lambda: all(receiver.count() >= 40 for receiver in hooks) and pending(app) == 0,
        what="every delivery",
    )
    time.sleep(1)  # a double delivery would have arrived by now
    for receiver in hooks:
        ids = [received.headers["webhook-id"] for received in receiver.received]
        assert len(ids) == len(set(ids)) == 40
        assert all(received.verified for received in receiver.received)
        # One subscription's events in the order they were written.
        members = [event["data"]["after"] for event in receiver.events()]
        assert members == list(range(40))
