"""``flask db prune``: remove what is past its retention, in bounded batches.

The movement log is the audit trail and is kept forever unless
``MOVEMENT_RETENTION_DAYS`` says otherwise; idempotency keys live 24 hours.
Each batch is its own short transaction, so writers wait at most one batch, and
on SQLite the write-ahead log is checkpointed and truncated afterwards, so the
file on disk shrinks back instead of staying at its high-water mark.
"""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask_migrate.cli import db as db_commands

from ..core.clock import utcnow
from ..core.database import delete_in_batches, dialect_name
from ..core.extensions import db
from ..history.models import Movement
from ..stock.idempotency import prune_expired_keys
from ..webhooks.prune import prune_webhooks


def prune_movements(days: int, batch_size: int) -> int:
    """Delete the movements older than ``days`` days, oldest first,
    ``batch_size`` at a time; how many were deleted."""
    cutoff = utcnow() - timedelta(days=days)
    return delete_in_batches(Movement, Movement.at < cutoff, batch_size)


def checkpoint() -> None:
    """On SQLite, copy the write-ahead log into the database and truncate it."""
    if dialect_name() == "sqlite":
        with db.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


@click.command("prune")
def prune_command() -> None:
    """Remove movements past MOVEMENT_RETENTION_DAYS, expired idempotency keys,
    and webhook attempts and finished deliveries past WEBHOOKS_RETENTION_DAYS."""
    config = current_app.config
    batch_size = int(config["PRUNE_BATCH_SIZE"])
    days = int(config["MOVEMENT_RETENTION_DAYS"])
    if days:
        movements = prune_movements(days, batch_size)
        click.echo(f"Removed {movements} movements older than {days} days.")
    else:
        click.echo("Kept every movement (MOVEMENT_RETENTION_DAYS is 0: forever).")
    keys = prune_expired_keys(batch_size)
    click.echo(f"Removed {keys} expired idempotency keys.")
    attempts, deliveries = prune_webhooks()
    days = config["WEBHOOKS_RETENTION_DAYS"]
    click.echo(
        f"Removed {attempts} webhook attempts and {deliveries} finished deliveries"
        f" older than {days} days."
    )
    checkpoint()


def register_prune_command() -> None:
    """Add ``prune`` to Flask-Migrate's ``flask db`` group."""
    db_commands.add_command(prune_command)
