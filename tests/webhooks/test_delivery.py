"""The worker sends each delivery to a real receiver on loopback, signed so
that the standardwebhooks package verifies it, in order, and retries failures
on the stated schedule (driven here by a clock the test moves)."""

from __future__ import annotations

import socket
import threading
from datetime import datetime, timedelta

import pytest

from stockapp.core.clock import utcnow
from stockapp.webhooks.worker import RETRY_DELAYS, Worker

# How far ahead of the real clock the worker's starts. The app stamps each
# event with the real time when it is written, after the fixtures' setup (an
# account's Argon2 hash, a receiver's thread), which on a loaded machine can
# take over a second: an event stamped after the worker's "now" would not yet
# be due, and a test would see nothing delivered.
HEAD_START = timedelta(minutes=1)


class Clock:
    """A clock the test moves by hand, ahead of the real one."""

    def __init__(self) -> None:
        self.now = utcnow() + HEAD_START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker(clock) -> Worker:
    # Jitter drawn at its middle: each delay is 1.1 times its base.
    return Worker(clock=clock, chance=lambda: 0.5)


@pytest.fixture
def attempts(rows):
    def read() -> list[tuple]:
        return [
            (row["delivery_id"], row["outcome"], row["status"], row["error"])
            for row in rows(
                "SELECT delivery_id, outcome, status, error FROM webhook_attempts"
                " ORDER BY id"
            )
        ]

    return read


@pytest.fixture
def subscription(client, admin):
    def read(subscription_id: int = 1) -> dict:
        return client.get(f"/webhooks/{subscription_id}", headers=admin).get_json()

    return read


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_receiver_gets_each_committed_movement_verified_in_order(
    client, subscribe, receiver, deliver, rows
):
    subscribe(events=["movement.created", "member.low"])
    client.post("/stock/fruit", json={"apple": 30, "pear": 2})
    client.put("/stock/fruit/apple/reorder-level", json=10)
    client.post("/stock/fruit/apple/adjustments", json={"delta": -25})
    client.post("/stock/fruit/apple/adjustments", json={"delta": -99})  # refused
    assert deliver() == 5
    assert all(received.verified for received in receiver.received)
    for received in receiver.received:
        assert received.headers["webhook-id"] == received.event["id"]
        assert received.headers["content-type"] == "application/json"
    assert [
        (e["type"], e["data"]["member"], e["data"]["kind"], e["data"]["after"])
        for e in receiver.events()
    ] == [
        ("movement.created", "apple", "create", 30),
        ("movement.created", "pear", "create", 2),
        ("movement.created", "apple", "level", 30),
        ("movement.created", "apple", "adjust", 5),
        ("member.low", "apple", "adjust", 5),
    ]
    states = rows("SELECT state, attempts FROM webhook_deliveries ORDER BY id")
    assert states == [{"state": "delivered", "attempts": 1}] * 5
    # Nothing is due any more.
    assert deliver() == 0


def test_a_tampered_body_or_a_wrong_secret_does_not_verify(
    client, subscribe, receiver, deliver
):
    subscribe()
    client.post("/stock/fruit", json={"apple": 1})
    deliver()
    (received,) = receiver.received
    assert receiver.verify(received.headers, received.body)
    assert not receiver.verify(received.headers, received.body.replace(b"1", b"2"))
    receiver.secrets = ["whsec_" + "A" * 43 + "="]
    assert not receiver.verify(received.headers, received.body)


def test_retries_follow_the_schedule_until_a_day_of_failure_disables(
    client, subscribe, receiver, worker, clock, deliver, attempts, rows, subscription
):
    receiver.answer = lambda received: 503
    subscribe()
    client.post("/stock/fruit", json={"apple": 1})
    started = clock.now
    assert deliver(worker) == 1
    for number, delay in enumerate(RETRY_DELAYS, start=2):
        # Jitter at its middle: each delay is 1.1 times its base.
        clock.advance(delay * 1.1 - timedelta(milliseconds=1))
        assert deliver(worker) == 0, f"attempt {number} came early"
        clock.advance(timedelta(milliseconds=1))
        assert deliver(worker) == 1, f"attempt {number} did not come"
    # 5.5 s, 5.5 min, 33 min, 2.2 h, 5.5 h, 11 h, 11 h: the 8th attempt comes
    # 30.3 hours after the first, a day of failure: the subscription goes off.
    assert clock.now - started == sum(RETRY_DELAYS, timedelta()) * 1.1
    assert [(outcome, status) for _, outcome, status, _ in attempts()] == [
        ("retrying", 503)
    ] * 7 + [("disabled", 503)]
    (delivery,) = rows("SELECT state, attempts FROM webhook_deliveries")
    assert delivery == {"state": "failed", "attempts": 8}
    found = subscription()
    assert found["enabled"] is False
    assert found["disabled_reason"].startswith("Every attempt has failed since ")
    assert found["disabled_reason"].endswith(" (a day or more); the last: 503.")
    # Off: nothing more is sent, even what comes later.
    client.post("/stock/veg", json={"leek": 1})
    clock.advance(timedelta(days=2))
    assert deliver(worker) == 0
    assert len(receiver.received) == 8


def test_a_dead_endpoint_is_disabled_after_a_day(
    client, admin, worker, clock, deliver, attempts, subscription
):
    url = f"http://127.0.0.1:{closed_port()}/hook"
    created = client.post(
        "/webhooks", json={"url": url, "events": ["movement.created"]}, headers=admin
    )
    assert created.status_code == 201
    client.post("/stock/fruit", json={"apple": 1})
    assert deliver(worker) == 1
    clock.advance(timedelta(hours=23))
    assert deliver(worker) == 1  # due long ago; a day has not passed yet
    assert subscription()["enabled"] is True
    assert subscription()["failing_since"] is not None
    clock.advance(timedelta(hours=1))
    assert deliver(worker) == 1
    logged = attempts()
    assert [outcome for _, outcome, _, _ in logged] == [
        "retrying",
        "retrying",
        "disabled",
    ]
    assert all(status is None for _, _, status, _ in logged)
    assert logged[0][3].startswith("could not connect: ")
    assert subscription()["enabled"] is False


def test_a_410_disables_at_once(
    client, admin, subscribe, receiver, worker, deliver, attempts, subscription
):
    receiver.answer = lambda received: 410
    subscribe()
    client.post("/stock/fruit", json={"apple": 1, "pear": 2})
    assert deliver(worker) == 1
    assert [(o, s) for _, o, s, _ in attempts()] == [("disabled", 410)]
    found = subscription()
    assert found["enabled"] is False
    assert found["disabled_reason"].startswith("The receiver answered 410 Gone at ")
    # Turned on again, it sends what waits at once, first the one that failed.
    receiver.answer = lambda received: 200
    turned_on = client.patch("/webhooks/1", json={"enabled": True}, headers=admin)
    assert turned_on.status_code == 200
    assert deliver(worker) == 2
    members = [event["data"]["member"] for event in receiver.events()]
    assert members == ["apple", "apple", "pear"]


def test_a_success_ends_the_failing_streak(
    client, subscribe, receiver, worker, clock, deliver, subscription
):
    answers = iter([500, 200])
    receiver.answer = lambda received: next(answers)
    subscribe()
    client.post("/stock/fruit", json={"apple": 1})
    deliver(worker)
    assert subscription()["failing_since"] is not None
    clock.advance(timedelta(seconds=6))
    assert deliver(worker) == 1
    assert subscription()["failing_since"] is None


def test_an_ordered_subscription_holds_later_events_behind_a_retry(
    client, subscribe, receiver, worker, clock, deliver
):
    answers = iter([500, 200, 200, 200])
    receiver.answer = lambda received: next(answers)
    subscribe()
    client.post("/stock/fruit", json={"apple": 1})
    client.post("/stock/veg", json={"leek": 2})
    assert deliver(worker) == 1  # apple failed: leek waits
    clock.advance(timedelta(seconds=6))
    assert deliver(worker) == 2
    members = [event["data"]["member"] for event in receiver.events()]
    assert members == ["apple", "apple", "leek"]


def test_an_unordered_subscription_sends_later_events_past_a_retry(
    client, subscribe, receiver, worker, clock, deliver
):
    answers = iter([500, 200, 200, 200])
    receiver.answer = lambda received: next(answers)
    subscribe(ordered=False)
    client.post("/stock/fruit", json={"apple": 1})
    client.post("/stock/veg", json={"leek": 2})
    assert deliver(worker) == 2
    clock.advance(timedelta(seconds=6))
    assert deliver(worker) == 1
    members = [event["data"]["member"] for event in receiver.events()]
    assert members == ["apple", "leek", "apple"]


def test_during_a_rotation_both_secrets_sign(
    client, admin, subscribe, receiver, deliver, clock, worker
):
    old = subscribe()["secret"]
    rotated = client.post("/webhooks/1/rotate-secret", headers=admin).get_json()
    client.post("/stock/fruit", json={"apple": 1})
    deliver(worker)
    (received,) = receiver.received
    assert received.headers["webhook-signature"].count("v1,") == 2
    for secret in (old, rotated["secret"]):
        receiver.secrets = [secret]
        assert receiver.verify(received.headers, received.body)
    # A day later the old one is dropped.
    clock.advance(timedelta(hours=24, seconds=1))
    client.post("/stock/fruit/apple/adjustments", json={"delta": 1})
    deliver(worker)
    latest = receiver.received[-1]
    assert latest.headers["webhook-signature"].count("v1,") == 1
    receiver.secrets = [old]
    assert not receiver.verify(latest.headers, latest.body)
    receiver.secrets = [rotated["secret"]]
    assert receiver.verify(latest.headers, latest.body)


def test_a_ping_and_a_redelivery_go_out_signed(
    client, admin, subscribe, receiver, deliver
):
    subscribe()
    ping = client.post("/webhooks/1/ping", headers=admin).get_json()
    assert deliver() == 1
    (received,) = receiver.received
    assert received.verified
    assert received.event["type"] == "ping"
    assert received.event["data"] == {"subscription": 1}
    assert received.event["by"] == "root"
    again = client.post(
        f"/webhooks/1/deliveries/{ping['id']}/redeliver", headers=admin
    ).get_json()
    assert deliver() == 1
    assert receiver.received[1].body == received.body
    assert receiver.received[1].headers["webhook-id"] == again["event_id"]
    deliveries = client.get("/webhooks/1/deliveries", headers=admin).get_json()
    newest = deliveries["deliveries"][0]
    assert newest["state"] == "delivered"
    assert newest["last_attempt"]["outcome"] == "delivered"
    assert newest["last_attempt"]["status"] == 200
    assert newest["last_attempt"]["answer"] == "ok"
    assert newest["last_attempt"]["latency_ms"] >= 0


def test_a_private_receiver_is_refused_at_delivery_once_not_allowed(
    app, client, admin, deliver, attempts, receiver
):
    # Subscribed while the LAN was allowed; then the setting is turned off.
    url = receiver.url.replace("127.0.0.1", "localhost")
    made = client.post(
        "/webhooks", json={"url": url, "events": ["movement.created"]}, headers=admin
    )
    assert made.status_code == 201
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False
    client.post("/stock/fruit", json={"apple": 1})
    assert deliver() == 1
    ((_, outcome, status, error),) = attempts()
    assert (outcome, status) == ("retrying", None)
    assert error.startswith("refused: localhost resolves to a loopback address")
    assert receiver.received == []


def test_two_workers_at_once_send_each_delivery_once(app, client, subscribe, receiver):
    for _ in range(3):
        subscribe()
    for number in range(20):
        client.post(f"/stock/c{number}", json={"m": number})

    def work() -> None:
        with app.app_context():
            Worker().drain()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [received.headers["webhook-id"] for received in receiver.received]
    # 20 events to 3 subscriptions: each event 3 times, never more.
    assert len(ids) == 60
    assert len(set(ids)) == 20
    assert all(ids.count(event_id) == 3 for event_id in set(ids))
