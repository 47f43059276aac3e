"""The transactional outbox: each committed change, as the events it makes.

The stock announces its movements inside the write (stock/signals.py); this
turns them into events and, in one more statement of that same transaction,
writes a delivery row for every enabled subscription that wants each event. A
write that rolls back leaves none; a committed one leaves all of them, whatever
crashes afterwards. The worker (worker.py) sends them.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Text,
    bindparam,
    exists,
    insert,
    literal,
    or_,
    select,
)

from ..core import driver
from ..core.clock import utc_text
from ..core.database import (
    ask_when_writes_begin,
    dialect_name,
    transaction_buffer,
    transaction_memo,
    write_connection,
)
from ..stock.ledger import current_group
from ..stock.signals import Change, Recorded, collection_deleted, movements_recorded
from .models import EVENT_BITS, PENDING, Delivery, Subscription, SubscriptionCollection

subscriptions = Subscription.__table__
limits = SubscriptionCollection.__table__
deliveries = Delivery.__table__

_BUFFER = "stockapp_webhook_events"
_LISTENING = "stockapp_webhook_listening"
# Any enabled subscription's id: a plain integer column, so the driver runs it
# without Core's result processing (an EXISTS would come back as a Boolean).
ANY_ENABLED = select(subscriptions.c.id).where(subscriptions.c.enabled).limit(1)
_LIMITED = select(limits.c.subscription_id).where(
    limits.c.subscription_id == subscriptions.c.id
)
_AT = bindparam("at", type_=DateTime(timezone=True))
# One delivery of an event per enabled subscription that wants its type and its
# collection (a subscription that lists none wants every collection).
ENQUEUE = insert(deliveries).from_select(
    [
        "subscription_id",
        "event_id",
        "type",
        "payload",
        "state",
        "attempts",
        "next_attempt_at",
        "created_at",
    ],
    select(
        subscriptions.c.id,
        bindparam("event_id", type_=String),
        bindparam("type", type_=String),
        bindparam("payload", type_=Text),
        literal(PENDING, String),
        literal(0, Integer),
        _AT,
        _AT,
    )
    .where(
        subscriptions.c.enabled,
        subscriptions.c.event_mask.op("&")(bindparam("bit", type_=Integer)) != 0,
        or_(
            ~exists(_LIMITED),
            exists(_LIMITED.where(limits.c.collection == bindparam("collection"))),
        ),
    )
    .order_by(subscriptions.c.id),
)


def new_event_id() -> str:
    """A fresh event id: the body's "id" and the webhook-id header."""
    return "evt_" + secrets.token_urlsafe(18)


def event_body(
    event_id: str, kind: str, at: datetime, by: str | None, data: dict[str, Any]
) -> str:
    """The JSON body of one event, exactly as it is signed and sent."""
    return json.dumps(
        {
            "id": event_id,
            "type": kind,
            "timestamp": utc_text(at),
            "by": by,
            "data": data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def crossing(change: Change, kind: str) -> str | None:
    """member.low if ``change`` (a movement of ``kind``) took the member from
    above its reorder level to at or below it, member.restocked for the way
    back, else None. A "level" movement crosses by moving the level; clearing
    it crosses nothing."""
    before, after, level_after = change.before, change.after, change.reorder_level
    # No level now (none, or a level cleared): nothing to cross.
    if before is None or after is None or level_after is None:
        return None
    level_before = change.details["level_before"] if kind == "level" else level_after
    was_low = level_before is not None and before <= level_before
    is_low = after <= level_after
    if is_low and not was_low:
        return "member.low"
    if was_low and not is_low:
        return "member.restocked"
    return None


def _event(kind: str, collection: str, body: str, event_id: str, at: datetime) -> dict:
    return {
        "event_id": event_id,
        "type": kind,
        "bit": EVENT_BITS[kind],
        "collection": collection,
        "payload": body,
        "at": at,
    }


def movement_events(
    recorded: Recorded, group: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The outbox rows of ``recorded``'s movements, in their order: each
    movement.created, and after it any member.low or member.restocked; each
    naming ``group``, what the movements went with (a batch, a transfer, a
    stocktake), if anything."""
    rows = []
    group = group or {}
    for change in recorded.changes:
        data = {
            "collection": recorded.collection,
            "member": change.member,
            "kind": recorded.kind,
            "before": change.before,
            "after": change.after,
            "reason": recorded.reason,
            "version": change.version,
            "movement_id": change.movement_id,
            **group,
        }
        data.update(change.details)
        for kind in ("movement.created", crossing(change, recorded.kind)):
            if kind is None:
                continue
            event_id = new_event_id()
            if kind != "movement.created":
                data = {**data, "reorder_level": change.reorder_level}
            body = event_body(event_id, kind, recorded.at, recorded.by, data)
            rows.append(_event(kind, recorded.collection, body, event_id, recorded.at))
    return rows


def _write(announced: list[Any]) -> None:
    """Write the transaction's events, just before it commits."""
    if not announced:
        return
    if _listening() is None and _many_events(announced):
        # Not asked yet, and many events are worth one question first: with
        # no subscription, they need neither building nor sending.
        if not _any_enabled():
            return
    rows = []
    for item in announced:
        rows += movement_events(*item) if isinstance(item, tuple) else [item]
    driver.execute_many(write_connection(), ENQUEUE, rows)


def _many_events(announced: list[Any]) -> bool:
    changes = 0
    for item in announced:
        changes += len(item[0].changes) if isinstance(item, tuple) else 1
        if changes > 1:
            return True
    return False


def _any_enabled() -> bool:
    rows = driver.execute(write_connection(), ANY_ENABLED, {})
    return rows.one_or_none() is not None


def enqueue(rows: list[dict[str, Any]]) -> None:
    """Add ``rows`` to the current write transaction's events: all of them are
    written in one statement just before it commits."""
    transaction_buffer(_BUFFER, _write).extend(rows)


def _anyone_listens() -> bool:
    """Whether an enabled subscription may want this transaction's events."""
    return _listening() is not False


def _listening() -> bool | None:
    """Whether an enabled subscription may want this transaction's events,
    asked once per transaction; None where it was not asked.

    On SQLite, in the lock's statement of a write of members (as a column of
    its own: core.database.ask_when_writes_begin), else when first wanted (a
    lookup in its own process costs less than building the events and the
    outbox's INSERT): the write lock is held from the transaction's BEGIN, so
    no subscription can appear before the commit. On PostgreSQL, as a write
    of members begins (its lock and read), in the round trip of its first
    statements (core.database.ask_when_writes_begin): a subscription enabled
    once such a write has begun gets the events of the writes that begin
    after it. Where the first statements did not carry it, it is not asked:
    the outbox's INSERT ... SELECT is the question itself (``_write``).
    """
    if dialect_name() == "sqlite":
        return transaction_memo(_LISTENING, _any_enabled)
    return transaction_memo(_LISTENING, _not_asked)


def _not_asked() -> None:
    return None


def _on_movements(_sender: Any, *, recorded: Recorded) -> None:
    if _anyone_listens():
        # Built when the transaction commits (and, on PostgreSQL, only if
        # anyone listens), with what the movements went with now.
        group = {key: value for key, value in current_group().items() if value}
        transaction_buffer(_BUFFER, _write).append((recorded, group))


def _on_collection_deleted(
    _sender: Any, *, collection: str, by: str | None, at: datetime
) -> None:
    if not _anyone_listens():
        return
    event_id = new_event_id()
    body = event_body(
        event_id, "collection.deleted", at, by, {"collection": collection}
    )
    enqueue([_event("collection.deleted", collection, body, event_id, at)])


def listen() -> None:
    """Write the outbox rows of every change the stock announces."""
    movements_recorded.connect(_on_movements)
    collection_deleted.connect(_on_collection_deleted)
    ask_when_writes_begin(_LISTENING, ANY_ENABLED, _is_an_id, _announced)


def _announced() -> bool:
    """Whether the stock's movements reach the outbox (tests of an old schema,
    without it, mute them)."""
    return not movements_recorded.is_muted


def _is_an_id(value: int | None) -> bool:
    """Whether ANY_ENABLED found a subscription (its id; None: none)."""
    return value is not None
