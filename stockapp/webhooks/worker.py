"""The worker: claims subscriptions with due deliveries and sends them.

A worker takes a lease on a few subscriptions at a time (``FOR NO KEY UPDATE
SKIP LOCKED`` on PostgreSQL, so several workers on several hosts share the work
without waiting on each other; SQLite's write lock serializes the claim), then
sends each one's pending deliveries oldest first, one at a time, renewing the
lease before each. One subscription is only ever served by one worker, so its
events go out in the order they were written; for an ordered subscription
(the default) a failed delivery stops it until its retry is due. A worker that
dies loses its lease when the lease runs out: another worker then takes over,
sending again at most the delivery that was in flight (the same webhook-id).

Retries follow ``RETRY_DELAYS`` (about 27 hours), each delay lengthened by up
to ``JITTER``. A 2xx delivers; a 410 disables the subscription; a subscription
whose every attempt has failed for ``FAILING_LIMIT`` is disabled, saying why.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import and_, exists, insert, or_, select, update

from ..core.clock import as_utc, utc_text, utcnow
from ..core.database import dialect_name, write_connection, write_transaction
from ..core.extensions import db
from . import sender, signing
from .models import MAX_ANSWER_KEPT, PENDING, Attempt, Delivery, Subscription
from .prune import prune_webhooks

log = logging.getLogger(__name__)

RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
# Each delay is lengthened by a random part of up to this much of itself, so
# that receivers that failed together are not retried together.
JITTER = 0.2
FAILING_LIMIT = timedelta(days=1)
# Deliveries sent to one subscription before its lease is given back (others
# get their turn), and subscriptions claimed at once.
DELIVERIES_PER_LEASE = 100
CLAIMED_AT_ONCE = 4
PRUNE_EVERY = timedelta(hours=1)

# What came of an attempt.
DELIVERED = "delivered"
RETRYING = "retrying"
GAVE_UP = "gave_up"
DISABLED = "disabled"
OUTCOMES = (DELIVERED, RETRYING, GAVE_UP, DISABLED)


def _due(now: datetime) -> Any:
    """A subscription has a delivery to send now: its oldest pending one is due
    (ordered), or any pending one is (unordered)."""
    head = (
        select(Delivery.next_attempt_at)
        .where(Delivery.subscription_id == Subscription.id, Delivery.state == PENDING)
        .order_by(Delivery.id)
        .limit(1)
        .scalar_subquery()
    )
    any_due = exists().where(
        Delivery.subscription_id == Subscription.id,
        Delivery.state == PENDING,
        Delivery.next_attempt_at <= now,
    )
    return or_(
        and_(Subscription.ordered, head <= now),
        and_(~Subscription.ordered, any_due),
    )


def _claimable(now: datetime) -> Any:
    return and_(
        Subscription.enabled,
        or_(Subscription.leased_until.is_(None), Subscription.leased_until < now),
        _due(now),
    )


@dataclass(frozen=True)
class _Job:
    """One delivery to send, with what its subscription needs to send it."""

    delivery_id: int
    event_id: str
    payload: str
    attempts: int
    url: str
    secrets: tuple[str, ...]
    ordered: bool
    failing_since: datetime | None


def retry_delay(attempts: int, chance: float) -> timedelta | None:
    """How long after its ``attempts``-th failure a delivery is tried again
    (``chance`` in [0, 1) draws the jitter); None: no more tries."""
    if attempts > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[attempts - 1] * (1 + JITTER * chance)


def worker_name() -> str:
    """Who holds a lease: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:100]


@dataclass
class Worker:
    """Sends due deliveries; ``clock``, ``post`` and ``chance`` are the tests'
    handles on time, the network and the jitter."""

    name: str = field(default_factory=worker_name)
    clock: Callable[[], datetime] = utcnow
    post: Callable[..., sender.Answer] = sender.post
    chance: Callable[[], float] = random.random
    # Set: finish the delivery in hand, give the leases back, and stop.
    stop: threading.Event = field(default_factory=threading.Event)

    def drain(self) -> int:
        """Send every delivery that is due, until none is; how many attempts."""
        attempts = 0
        while not self.stop.is_set() and (claimed := self.claim()):
            made = sum(self.serve(subscription_id) for subscription_id in claimed)
            if not made:
                break  # claimed but nothing to send after all (a race): poll later
            attempts += made
        return attempts

    def anything_due(self) -> bool:
        """Whether a claim would find work (a read: idle polls take no lock)."""
        with db.engine.connect() as connection:
            return bool(
                connection.execute(
                    select(exists().where(_claimable(self.clock())))
                ).scalar()
            )

    def claim(self) -> list[int]:
        """Lease a few subscriptions with due deliveries; their ids."""
        if not self.anything_due():
            return []
        now = self.clock()
        lease = timedelta(seconds=float(current_app.config["WEBHOOKS_LEASE_SECONDS"]))
        query = (
            select(Subscription.id)
            .where(_claimable(now))
            .order_by(Subscription.id)
            .limit(CLAIMED_AT_ONCE)
        )
        if dialect_name() == "postgresql":
            # NO KEY: a writer's foreign-key check (KEY SHARE) never waits on it.
            query = query.with_for_update(skip_locked=True, key_share=True)
        with write_transaction():
            connection = write_connection()
            claimed = list(connection.execute(query).scalars())
            if claimed:
                connection.execute(
                    update(Subscription)
                    .where(Subscription.id.in_(claimed))
                    .values(lease_owner=self.name, leased_until=now + lease)
                )
        return claimed

    def serve(self, subscription_id: int) -> int:
        """Send the subscription's due deliveries in order while they succeed
        (or, unordered, whatever their outcome); how many attempts."""
        attempts = 0
        try:
            while attempts < DELIVERIES_PER_LEASE and not self.stop.is_set():
                job = self._next(subscription_id)
                if job is None:
                    break
                answer = self._send(job)
                attempts += 1
                delivered = self._record(subscription_id, job, answer)
                if not delivered and job.ordered:
                    break
        finally:
            self._release(subscription_id)
        return attempts

    def _next(self, subscription_id: int) -> _Job | None:
        """Renew the lease and take the next delivery, or None (nothing due,
        the lease lost, the subscription disabled or gone)."""
        now = self.clock()
        lease = timedelta(seconds=float(current_app.config["WEBHOOKS_LEASE_SECONDS"]))
        with write_transaction():
            connection = write_connection()
            subscription = connection.execute(
                update(Subscription)
                .where(
                    Subscription.id == subscription_id,
                    Subscription.lease_owner == self.name,
                    Subscription.enabled,
                )
                .values(leased_until=now + lease)
                .returning(
                    Subscription.url,
                    Subscription.secret,
                    Subscription.previous_secret,
                    Subscription.previous_secret_until,
                    Subscription.ordered,
                    Subscription.failing_since,
                )
            ).one_or_none()
            if subscription is None:
                return None
            query = (
                select(
                    Delivery.id,
                    Delivery.event_id,
                    Delivery.payload,
                    Delivery.attempts,
                    Delivery.next_attempt_at,
                )
                .where(
                    Delivery.subscription_id == subscription_id,
                    Delivery.state == PENDING,
                )
                .order_by(Delivery.id)
                .limit(1)
            )
            if not subscription.ordered:
                query = query.where(Delivery.next_attempt_at <= now)
            delivery = connection.execute(query).one_or_none()
        if delivery is None or as_utc(delivery.next_attempt_at) > now:
            return None
        secrets = [subscription.secret]
        until = subscription.previous_secret_until
        if subscription.previous_secret and until and as_utc(until) > now:
            secrets.append(subscription.previous_secret)
        return _Job(
            delivery.id,
            delivery.event_id,
            delivery.payload,
            delivery.attempts,
            subscription.url,
            tuple(secrets),
            subscription.ordered,
            None
            if subscription.failing_since is None
            else as_utc(subscription.failing_since),
        )

    def _send(self, job: _Job) -> sender.Answer:
        config = current_app.config
        body = job.payload.encode()
        try:
            secrets = [signing.unseal(sealed) for sealed in job.secrets]
        except signing.UnreadableSecret as error:
            return sender.Answer(None, b"", str(error), 0)
        timestamp = int(time.time())
        headers = {
            "webhook-id": job.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signing.signature_header(
                secrets, job.event_id, timestamp, body
            ),
        }
        limits = sender.Limits(
            connect_timeout=float(config["WEBHOOKS_CONNECT_TIMEOUT"]),
            answer_timeout=float(config["WEBHOOKS_ANSWER_TIMEOUT"]),
            allow_private=bool(config["WEBHOOKS_ALLOW_PRIVATE"]),
        )
        return self.post(job.url, body, headers, limits)

    def _record(self, subscription_id: int, job: _Job, answer: sender.Answer) -> bool:
        """Log the attempt and move the delivery on; whether it was delivered."""
        now = self.clock()
        attempts = job.attempts + 1
        delivery: dict[str, Any] = {"attempts": attempts}
        subscription: dict[str, Any] = {}
        if answer.delivered:
            outcome = DELIVERED
            delivery.update(state=DELIVERED, delivered_at=now)
            subscription["failing_since"] = None
        else:
            failing_since = job.failing_since or now
            subscription["failing_since"] = failing_since
            delay = retry_delay(attempts, self.chance())
            if delay is None:
                outcome = GAVE_UP
                delivery["state"] = "failed"
            else:
                outcome = RETRYING
                delivery["next_attempt_at"] = now + delay
            reason = _disabling_reason(answer, failing_since, now)
            if reason is not None:
                outcome = DISABLED
                subscription.update(enabled=False, disabled_reason=reason)
        with write_transaction():
            connection = write_connection()
            updated = connection.execute(
                update(Delivery)
                .where(Delivery.id == job.delivery_id, Delivery.state == PENDING)
                .values(delivery)
            ).rowcount
            if not updated:
                return answer.delivered  # deleted (with its subscription) meanwhile
            connection.execute(
                insert(Attempt).values(
                    delivery_id=job.delivery_id,
                    subscription_id=subscription_id,
                    at=now,
                    outcome=outcome,
                    status=answer.status,
                    error=None if answer.error is None else answer.error[:500],
                    latency_ms=answer.latency_ms,
                    answer=answer.body[:MAX_ANSWER_KEPT].decode("utf-8", "replace")[
                        :MAX_ANSWER_KEPT
                    ]
                    or None,
                )
            )
            connection.execute(
                update(Subscription)
                .where(Subscription.id == subscription_id)
                .values(subscription)
            )
        log.info(
            "webhook delivery %s to subscription %s: %s (%s, %d ms)",
            job.delivery_id,
            subscription_id,
            outcome,
            answer.status if answer.status is not None else answer.error,
            answer.latency_ms,
        )
        return answer.delivered

    def _release(self, subscription_id: int) -> None:
        with write_transaction():
            write_connection().execute(
                update(Subscription)
                .where(
                    Subscription.id == subscription_id,
                    Subscription.lease_owner == self.name,
                )
                .values(lease_owner=None, leased_until=None)
            )


def _disabling_reason(
    answer: sender.Answer, failing_since: datetime, now: datetime
) -> str | None:
    """Why a failed attempt turns the subscription off, or None."""
    if answer.status == 410:
        return f"The receiver answered 410 Gone at {utc_text(now)}."
    if now - failing_since >= FAILING_LIMIT:
        last = answer.status if answer.status is not None else answer.error
        return (
            f"Every attempt has failed since {utc_text(failing_since)}"
            f" (a day or more); the last: {last}."
        )
    return None


def run(app: Flask, *, threads: int, stop: threading.Event) -> None:
    """Deliver until ``stop`` is set: ``threads`` workers, each polling every
    WEBHOOKS_POLL_SECONDS when idle; one prunes the log every hour."""
    poll = float(app.config["WEBHOOKS_POLL_SECONDS"])

    def loop(prunes: bool) -> None:
        worker = Worker(stop=stop)
        pruned_at: datetime | None = None
        while not stop.is_set():
            with app.app_context():
                try:
                    if prunes and (
                        pruned_at is None or utcnow() - pruned_at >= PRUNE_EVERY
                    ):
                        prune_webhooks()
                        pruned_at = utcnow()
                    if worker.drain():
                        continue
                except Exception:
                    # The database away, say: log it and try again next poll.
                    log.exception("webhook worker %s failed; retrying", worker.name)
            stop.wait(poll)

    workers = [
        threading.Thread(target=loop, args=(index == 0,), daemon=True)
        for index in range(threads)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
