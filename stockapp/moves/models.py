"""Stocktakes: a count of one collection's shelf, member by member, that becomes
the stock when it is committed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..core.clock import utcnow
from ..core.extensions import ID_TYPE, db
from ..core.rules import MAX_NAME_LENGTH, MAX_REASON_LENGTH

# What becomes of a stocktake: counted while open, then committed or cancelled
# (both read-only for good).
STOCKTAKE_STATES = ("open", "committed", "cancelled")
MAX_STATE_LENGTH = 10


class Stocktake(db.Model):
    """One count of one collection."""

    __tablename__ = "stocktakes"
    __table_args__ = (
        CheckConstraint(
            "state IN (" + ", ".join(f"'{state}'" for state in STOCKTAKE_STATES) + ")",
            name="state_known",
        ),
        # A collection's stocktakes, newest first (the pages list them so).
        Index("ix_stocktakes_collection_id", "collection", "id"),
    )

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    # A name, not a foreign key, like the movement log's: a committed stocktake
    # is a record that outlives the collection.
    collection: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    note: Mapped[str | None] = mapped_column(String(MAX_REASON_LENGTH))
    state: Mapped[str] = mapped_column(String(MAX_STATE_LENGTH), default="open")
    opened_by: Mapped[str | None] = mapped_column(String(MAX_NAME_LENGTH))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_by: Mapped[str | None] = mapped_column(String(MAX_NAME_LENGTH))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What the commit did with the members nobody counted: "leave" or "zero".
    uncounted: Mapped[str | None] = mapped_column(String(MAX_STATE_LENGTH))


class StocktakeCount(db.Model):
    """What a clerk counted of one member, and what the stock said then."""

    __tablename__ = "stocktake_counts"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity_not_negative"),)

    stocktake_id: Mapped[int] = mapped_column(
        ID_TYPE, ForeignKey("stocktakes.id", ondelete="CASCADE"), primary_key=True
    )
    member: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), primary_key=True)
    # What is on the shelf.
    quantity: Mapped[int] = mapped_column(BigInteger)
    # The member's quantity and version when it was counted: the variance is
    # the count against this, so what moves after the count is not a loss.
    stored_quantity: Mapped[int] = mapped_column(BigInteger)
    stored_version: Mapped[int] = mapped_column(BigInteger)
    counted_by: Mapped[str | None] = mapped_column(String(MAX_NAME_LENGTH))
    counted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow
    )
    # The member's quantity just before and after the commit applied the
    # variance (null while open, once cancelled, or if the member was gone).
    before: Mapped[int | None] = mapped_column(BigInteger)
    after: Mapped[int | None] = mapped_column(BigInteger)
