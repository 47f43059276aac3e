"""The stored stock: collections and the members they hold."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .validation import MAX_NAME_LENGTH


class Collection(db.Model):
    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), unique=True)

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
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    quantity: Mapped[int] = mapped_column(BigInteger)

    collection: Mapped[Collection] = relationship(back_populates="members")
