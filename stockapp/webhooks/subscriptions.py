"""The units of work on subscriptions and their deliveries, shared by the API,
the admin page and the CLI."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import delete, func, insert, select, update

from ..core.clock import utc_text, utcnow
from ..core.database import write_connection, write_transaction
from ..core.errors import Problem
from ..core.extensions import db
from .events import event_body, new_event_id
from .models import (
    EVENT_BITS,
    EVENT_TYPES,
    PENDING,
    Attempt,
    Delivery,
    Subscription,
    SubscriptionCollection,
)
from .signing import new_secret, seal
from .validation import SubscriptionFields

# The errors of these units of work, shared by their answers and the API document.
SUBSCRIPTION_NOT_FOUND = "Subscription not found"
DELIVERY_NOT_FOUND = "Delivery not found"
TOO_MANY_SUBSCRIPTIONS = "Too many subscriptions"
# Every write that announces something is matched against each subscription,
# inside its transaction: their number is bounded.
MAX_SUBSCRIPTIONS = 100
# How long a rotated-out secret keeps signing beside the new one.
ROTATION_GRACE = timedelta(hours=24)
# How many of a subscription's deliveries its listing shows, newest first.
RECENT_DELIVERIES = 50
PING = "ping"


class NewSubscription(NamedTuple):
    """A subscription just made (or its secret rotated), with its secret,
    shown this once."""

    subscription: dict[str, Any]
    secret: str


def _no_subscription(subscription_id: int) -> Problem:
    return Problem(
        404,
        SUBSCRIPTION_NOT_FOUND,
        f"There is no webhook subscription {subscription_id}.",
    )


def _mask(events: tuple[str, ...]) -> int:
    mask = 0
    for event in events:
        mask |= EVENT_BITS[event]
    return mask


def _time(at: datetime | None) -> str | None:
    return None if at is None else utc_text(at)


def _json(row: Any, collections: list[str]) -> dict[str, Any]:
    """A subscription as the API shows it (never its secret)."""
    rotating = row.previous_secret_until
    if rotating is not None and rotating.replace(tzinfo=None) <= utcnow().replace(
        tzinfo=None
    ):
        rotating = None
    return {
        "id": row.id,
        "url": row.url,
        "description": row.description,
        "events": [
            event for event in EVENT_TYPES if row.event_mask & EVENT_BITS[event]
        ],
        "collections": collections or None,
        "ordered": row.ordered,
        "enabled": row.enabled,
        "disabled_reason": row.disabled_reason,
        "failing_since": _time(row.failing_since),
        "previous_secret_until": _time(rotating),
        "created_at": utc_text(row.created_at),
    }


def _collections_of(ids: list[int]) -> dict[int, list[str]]:
    rows = db.session.execute(
        select(
            SubscriptionCollection.subscription_id, SubscriptionCollection.collection
        )
        .where(SubscriptionCollection.subscription_id.in_(ids))
        .order_by(SubscriptionCollection.collection)
    ).all()
    found: dict[int, list[str]] = {}
    for subscription_id, collection in rows:
        found.setdefault(subscription_id, []).append(collection)
    return found


def list_subscriptions() -> list[dict[str, Any]]:
    """Every subscription, oldest first."""
    rows = db.session.execute(select(Subscription).order_by(Subscription.id)).scalars()
    rows = list(rows)
    collections = _collections_of([row.id for row in rows])
    db.session.rollback()
    return [_json(row, collections.get(row.id, [])) for row in rows]


def get_subscription(subscription_id: int) -> dict[str, Any]:
    """One subscription, or 404."""
    row = db.session.get(Subscription, subscription_id)
    if row is None:
        db.session.rollback()
        raise _no_subscription(subscription_id)
    found = _json(row, _collections_of([row.id]).get(row.id, []))
    db.session.rollback()
    return found


def _set_collections(subscription_id: int, collections: tuple[str, ...]) -> None:
    connection = write_connection()
    connection.execute(
        delete(SubscriptionCollection).where(
            SubscriptionCollection.subscription_id == subscription_id
        )
    )
    if collections:
        connection.execute(
            insert(SubscriptionCollection),
            [
                {"subscription_id": subscription_id, "collection": name}
                for name in collections
            ],
        )


def create_subscription(fields: SubscriptionFields) -> NewSubscription:
    """Store a new, enabled subscription with a fresh secret; 409 when there are
    ``MAX_SUBSCRIPTIONS`` already."""
    assert fields.url is not None and fields.events is not None
    secret = new_secret()
    with write_transaction():
        count = select(func.count()).select_from(Subscription)
        if write_connection().execute(count).scalar_one() >= MAX_SUBSCRIPTIONS:
            raise Problem(
                409,
                TOO_MANY_SUBSCRIPTIONS,
                f"There are {MAX_SUBSCRIPTIONS} webhook subscriptions already, the"
                " most there may be: every write is matched against each of them."
                " Delete one first.",
            )
        subscription_id = (
            write_connection()
            .execute(
                insert(Subscription)
                .values(
                    url=fields.url,
                    description=fields.description,
                    event_mask=_mask(fields.events),
                    enabled=True,
                    ordered=True if fields.ordered is None else fields.ordered,
                    secret=seal(secret),
                    created_at=utcnow(),
                )
                .returning(Subscription.id)
            )
            .scalar_one()
        )
        _set_collections(subscription_id, fields.collections or ())
    return NewSubscription(get_subscription(subscription_id), secret)


def update_subscription(
    subscription_id: int, fields: SubscriptionFields
) -> dict[str, Any]:
    """Change what ``fields`` gives; enabling clears why it was disabled and its
    failures, so its waiting deliveries go out again."""
    values: dict[str, Any] = {}
    if fields.url is not None:
        values["url"] = fields.url
    if fields.events is not None:
        values["event_mask"] = _mask(fields.events)
    if fields.sets_description:
        values["description"] = fields.description
    if fields.ordered is not None:
        values["ordered"] = fields.ordered
    if fields.enabled is not None:
        values["enabled"] = fields.enabled
        values["disabled_reason"] = None if fields.enabled else "Disabled by an admin."
        if fields.enabled:
            values["failing_since"] = None
    with write_transaction():
        _change(subscription_id, values)
        if fields.collections is not None:
            _set_collections(subscription_id, fields.collections)
        if fields.enabled:
            # What waits for a retry goes out at once.
            write_connection().execute(
                update(Delivery)
                .where(
                    Delivery.subscription_id == subscription_id,
                    Delivery.state == PENDING,
                )
                .values(next_attempt_at=utcnow())
            )
    return get_subscription(subscription_id)


def _change(subscription_id: int, values: dict[str, Any]) -> None:
    """Update the subscription's ``values`` (none: only check it exists); 404."""
    statement = (
        update(Subscription)
        .where(Subscription.id == subscription_id)
        .values(values or {"id": Subscription.id})
    )
    if write_connection().execute(statement).rowcount == 0:
        raise _no_subscription(subscription_id)


def disable_subscription(subscription_id: int, reason: str) -> None:
    with write_transaction():
        _change(subscription_id, {"enabled": False, "disabled_reason": reason})


def delete_subscription(subscription_id: int) -> None:
    """Delete a subscription with its deliveries and their attempts; 404."""
    with write_transaction():
        deleted = write_connection().execute(
            delete(Subscription).where(Subscription.id == subscription_id)
        )
        if deleted.rowcount == 0:
            raise _no_subscription(subscription_id)


def rotate_secret(subscription_id: int) -> NewSubscription:
    """Give the subscription a new secret; the current one keeps signing beside
    it for ``ROTATION_GRACE``."""
    secret = new_secret()
    with write_transaction():
        current = (
            write_connection()
            .execute(
                select(Subscription.secret).where(Subscription.id == subscription_id)
            )
            .scalar_one_or_none()
        )
        if current is None:
            raise _no_subscription(subscription_id)
        _change(
            subscription_id,
            {
                "secret": seal(secret),
                "previous_secret": current,
                "previous_secret_until": utcnow() + ROTATION_GRACE,
            },
        )
    return NewSubscription(get_subscription(subscription_id), secret)


def ping(subscription_id: int, by: str | None) -> dict[str, Any]:
    """Queue a ping event for the subscription alone; the delivery queued."""
    at = utcnow()
    event_id = new_event_id()
    body = event_body(event_id, PING, at, by, {"subscription": subscription_id})
    with write_transaction():
        _change(subscription_id, {})
        delivery_id = _queue(subscription_id, event_id, PING, body, at)
    return get_delivery(subscription_id, delivery_id)


def redeliver(subscription_id: int, delivery_id: int) -> dict[str, Any]:
    """Queue an earlier delivery's event again, with its id and body (the
    receiver can tell it is the same event); the new delivery."""
    at = utcnow()
    with write_transaction():
        earlier = (
            write_connection()
            .execute(
                select(Delivery.event_id, Delivery.type, Delivery.payload).where(
                    Delivery.id == delivery_id,
                    Delivery.subscription_id == subscription_id,
                )
            )
            .one_or_none()
        )
        if earlier is None:
            raise Problem(
                404,
                DELIVERY_NOT_FOUND,
                f"Subscription {subscription_id} has no delivery {delivery_id}.",
            )
        new_id = _queue(
            subscription_id, earlier.event_id, earlier.type, earlier.payload, at
        )
    return get_delivery(subscription_id, new_id)


def _queue(
    subscription_id: int, event_id: str, kind: str, body: str, at: datetime
) -> int:
    return (
        write_connection()
        .execute(
            insert(Delivery)
            .values(
                subscription_id=subscription_id,
                event_id=event_id,
                type=kind,
                payload=body,
                state=PENDING,
                attempts=0,
                next_attempt_at=at,
                created_at=at,
            )
            .returning(Delivery.id)
        )
        .scalar_one()
    )


def _delivery_json(row: Any, last: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_id": row.event_id,
        "type": row.type,
        "state": row.state,
        "attempts": row.attempts,
        "created_at": utc_text(row.created_at),
        "next_attempt_at": _time(row.next_attempt_at) if row.state == PENDING else None,
        "delivered_at": _time(row.delivered_at),
        "last_attempt": None
        if last is None
        else {
            "at": utc_text(last.at),
            "outcome": last.outcome,
            "status": last.status,
            "error": last.error,
            "latency_ms": last.latency_ms,
            "answer": last.answer,
        },
    }


def _deliveries(subscription_id: int, condition: Any) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Delivery)
        .where(Delivery.subscription_id == subscription_id, condition)
        .order_by(Delivery.id.desc())
        .limit(RECENT_DELIVERIES)
    ).scalars()
    rows = list(rows)
    latest: dict[int, Any] = {}
    if rows:
        attempts = db.session.execute(
            select(Attempt)
            .where(Attempt.delivery_id.in_([row.id for row in rows]))
            .order_by(Attempt.id)
        ).scalars()
        for attempt in attempts:
            latest[attempt.delivery_id] = attempt
    found = [_delivery_json(row, latest.get(row.id)) for row in rows]
    db.session.rollback()
    return found


def recent_deliveries(subscription_id: int) -> list[dict[str, Any]]:
    """The subscription's newest deliveries, each with its last attempt; 404."""
    get_subscription(subscription_id)
    return _deliveries(subscription_id, True)


def get_delivery(subscription_id: int, delivery_id: int) -> dict[str, Any]:
    found = _deliveries(subscription_id, Delivery.id == delivery_id)
    if not found:
        raise Problem(
            404,
            DELIVERY_NOT_FOUND,
            f"Subscription {subscription_id} has no delivery {delivery_id}.",
        )
    return found[0]
