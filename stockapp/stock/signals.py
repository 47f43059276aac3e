"""What the stock's writes tell the capabilities above it, inside the write.

Each is sent after a write has logged its movements and before it commits: a
receiver's statements, run on ``write_connection()``, commit or roll back with
the write, so what it records (the webhooks' outbox) holds exactly the committed
changes. The stock imports none of its receivers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from blinker import Namespace

_signals = Namespace()
# Sent with ``recorded``, a Recorded.
movements_recorded = _signals.signal("movements-recorded")
# Sent with ``collection`` (its name), ``by`` and ``at``, after the movements of
# its members.
collection_deleted = _signals.signal("collection-deleted")


class Change(NamedTuple):
    """One logged movement, with what the member is now."""

    movement_id: int
    member: str
    before: int | None
    after: int | None
    # The member's reorder level (None: none, or the member is new or gone).
    reorder_level: int | None
    # The member's version after the change (None: it is gone).
    version: int | None
    # What a "level" or "code" movement changed: level_before and
    # level_after, or code_before and code_after; empty for every other kind.
    details: Mapping[str, Any] = {}


class Recorded(NamedTuple):
    """The movements one statement of a write logged, in the order logged."""

    collection: str
    kind: str
    reason: str | None
    by: str | None
    at: datetime
    changes: list[Change]
