"""The webhooks' tables: subscriptions, the outbox of deliveries, and the log
of every attempt to make one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..core.clock import utcnow
from ..core.extensions import ID_TYPE, db
from ..core.rules import MAX_NAME_LENGTH

MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 200
# The first bytes of a receiver's answer kept with each attempt.
MAX_ANSWER_KEPT = 1024
# What each event type is called, and its bit in a subscription's event_mask.
EVENT_TYPES = (
    "movement.created",
    "member.low",
    "member.restocked",
    "collection.deleted",
)
EVENT_BITS = {name: 1 << index for index, name in enumerate(EVENT_TYPES)}
# A delivery waits (pending), was answered 2xx (delivered), or ran out of
# retries (failed).
DELIVERY_STATES = ("pending", "delivered", "failed")
PENDING = "pending"
# The subscriptions' own columns the worker claims a subscription with.
LEASE_OWNER_LENGTH = 100


def _known(column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{column}_known")


class Subscription(db.Model):
    """A receiver's URL and which events it wants, with the secret that signs them."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    url: Mapped[str] = mapped_column(String(MAX_URL_LENGTH))
    description: Mapped[str | None] = mapped_column(String(MAX_DESCRIPTION_LENGTH))
    # One bit per EVENT_TYPES entry.
    event_mask: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Why the worker (or an admin) turned it off; null while enabled.
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    # Whether a later event waits for an earlier one being retried.
    ordered: Mapped[bool] = mapped_column(Boolean, default=True)
    # The signing secrets, encrypted with a key derived from SECRET_KEY (see
    # secrets.py); the previous one signs beside the new one until its end.
    secret: Mapped[str] = mapped_column(String(500))
    previous_secret: Mapped[str | None] = mapped_column(String(500))
    previous_secret_until: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True)
    )
    # Since when every attempt has failed; null after a success.
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The worker delivering to it now, until when (see worker.py).
    lease_owner: Mapped[str | None] = mapped_column(String(LEASE_OWNER_LENGTH))
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow
    )


class SubscriptionCollection(db.Model):
    """A collection a subscription is limited to (none listed: every one)."""

    __tablename__ = "webhook_subscription_collections"

    subscription_id: Mapped[int] = mapped_column(
        ID_TYPE,
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        primary_key=True,
    )
    collection: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), primary_key=True)


class Delivery(db.Model):
    """One event for one subscription: the outbox row, written in the same
    transaction as the change it announces."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        _known("state", DELIVERY_STATES),
        # The worker's next delivery of a subscription: its oldest pending one.
        # The only index beside the key: each is written by every write that
        # announces something, once per subscription (a subscription's recent
        # deliveries are read newest first along the key; the prune walks it
        # oldest first).
        Index(
            "ix_webhook_deliveries_pending",
            "subscription_id",
            "id",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ID_TYPE, ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    # The event's id: the body's "id" and the webhook-id header, the same for
    # every subscription the event goes to.
    event_id: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(30))
    # The exact JSON body that is signed and sent.
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Attempt(db.Model):
    """One try to deliver: what the receiver answered, and how fast."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        # A delivery's attempts (its last one on the page; the cascade), and the
        # prune's cutoff.
        Index("ix_webhook_attempts_delivery_id", "delivery_id"),
        Index("ix_webhook_attempts_at", "at"),
    )

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ID_TYPE, ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    subscription_id: Mapped[int] = mapped_column(ID_TYPE)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # delivered | retry | failed | disabled (see worker.py's outcomes)
    outcome: Mapped[str] = mapped_column(String(10))
    # The HTTP status, or null when there was no answer (then ``error`` says why).
    status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    latency_ms: Mapped[int] = mapped_column(Integer)
    answer: Mapped[str | None] = mapped_column(String(MAX_ANSWER_KEPT))
