"""The webhooks' tables stay bounded: attempts and finished deliveries older
than ``WEBHOOKS_RETENTION_DAYS`` are deleted, in short batches."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from ..core.clock import utcnow
from ..core.database import delete_in_batches
from .models import PENDING, Attempt, Delivery


def prune_webhooks() -> tuple[int, int]:
    """Delete the old attempts and finished deliveries; how many of each."""
    config = current_app.config
    cutoff = utcnow() - timedelta(days=int(config["WEBHOOKS_RETENTION_DAYS"]))
    batch_size = int(config["PRUNE_BATCH_SIZE"])
    attempts = delete_in_batches(Attempt, Attempt.at < cutoff, batch_size)
    # Pending ones stay, however old: they are still owed.
    deliveries = delete_in_batches(
        Delivery,
        (Delivery.created_at < cutoff) & (Delivery.state != PENDING),
        batch_size,
    )
    return attempts, deliveries
