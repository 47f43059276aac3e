"""The stored stock: collections, members, and the idempotency keys of its writes."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.clock import utcnow
from ..core.extensions import ID_TYPE, db
from ..core.rules import MAX_CODE_LENGTH, MAX_NAME_LENGTH

# When a member's stock is low; its partial index holds only those members (a
# null level is never low).
LOW_STOCK = "quantity <= reorder_level"


def new_version() -> int:
    """A fresh version counter for a new row.

    It starts at a random point, so a collection or member that is deleted and
    created again never repeats an ETag its earlier self had.
    """
    return secrets.randbelow(2**52) + 1


class Collection(db.Model):
    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), unique=True)
    # Bumped whenever the collection or any of its members changes; the ETag.
    version: Mapped[int] = mapped_column(
        BigInteger, default=new_version, server_default="1"
    )

    members: Mapped[list[Member]] = relationship(
        back_populates="collection",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Member.id",
    )


class Member(db.Model):
    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("collection_id", "name"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("reorder_level >= 0", name="reorder_level_not_negative"),
        # A collection's members in creation order without a sort: the whole
        # stock and the pages of members read them so.
        Index("ix_members_collection_id_id", "collection_id", "id"),
        # A collection's members by quantity (the collection page's sort); by
        # name they come from the unique (collection_id, name) index.
        Index(
            "ix_members_collection_id_quantity_id", "collection_id", "quantity", "id"
        ),
        # Only the members at or below their reorder level, in creation order:
        # the low-stock list reads this index, never all members.
        Index(
            "ix_members_low_stock",
            "id",
            sqlite_where=text(LOW_STOCK),
            postgresql_where=text(LOW_STOCK),
        ),
        # A code names one member of a collection; GET /codes/<code> finds
        # its members in every collection through the same index.
        Index("uq_members_code_collection_id", "code", "collection_id", unique=True),
    )

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ID_TYPE, ForeignKey("collections.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    quantity: Mapped[int] = mapped_column(BigInteger)
    # Stock at or below this is low; None: no level set.
    reorder_level: Mapped[int | None] = mapped_column(BigInteger)
    # The barcode on the shelf (codes.py); None: none.
    code: Mapped[str | None] = mapped_column(String(MAX_CODE_LENGTH))
    # Bumped whenever the quantity, reorder level or code changes; the
    # member's ETag.
    version: Mapped[int] = mapped_column(
        BigInteger, default=new_version, server_default="1"
    )

    collection: Mapped[Collection] = relationship(back_populates="members")


class IdempotencyKey(db.Model):
    """The first response to a POST that carried an ``Idempotency-Key``."""

    __tablename__ = "idempotency_keys"
    # Keys are per user: the same key from two users is two keys.
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    # The user who sent it; 0 for anonymous callers (not a foreign key, so that
    # anonymous keys are unique too: NULLs never collide in a unique key).
    user_id: Mapped[int] = mapped_column(ID_TYPE, default=0, server_default="0")
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of method, path and body: a retry must send the same request.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
