"""The movement log: one row per change of a member's quantity, reorder level
or code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..core.clock import utcnow
from ..core.extensions import ID_TYPE, db
from ..core.rules import MAX_CODE_LENGTH, MAX_NAME_LENGTH, MAX_REASON_LENGTH

MOVEMENT_KINDS = (
    "create",
    "replace",
    "update",
    "delete",
    "adjust",
    "import",
    # Half of a transfer between two members (moves/transfers.py).
    "transfer",
    # A stocktake's variance, applied when it is committed (moves/stocktakes.py).
    "stocktake",
    # A change of the member's reorder level: its quantity (before = after) is
    # untouched; level_before and level_after say what changed.
    "level",
    # A change of the member's code, the same way (code_before, code_after).
    "code",
)
# The longest of them: the kind column's width.
MAX_KIND_LENGTH = 10
# The random id of a batch or of a transfer, as text.
GROUP_ID_LENGTH = 36
# The columns naming what a movement went with, when anything.
GROUPS = ("batch", "transfer", "stocktake")
# The columns saying what a change of a member's detail changed, by its kind.
DETAILS = {
    "level": ("level_before", "level_after"),
    "code": ("code_before", "code_after"),
}


class Movement(db.Model):
    """One change of one member's quantity (or of its reorder level), kept
    after the member is gone."""

    __tablename__ = "movements"
    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{kind}'" for kind in MOVEMENT_KINDS) + ")",
            name="kind_known",
        ),
        # History pages walk these newest first, seeking by id (no OFFSET).
        Index("ix_movements_collection_member_id", "collection", "member", "id"),
        Index("ix_movements_collection_id", "collection", "id"),
        # A series (trends/) seeks each member's last movement, and its last
        # change of reorder level, at or before each of its boundaries.
        Index(
            "ix_movements_collection_member_at_id", "collection", "member", "at", "id"
        ),
        Index(
            "ix_movements_level_collection_member_at_id",
            "collection",
            "member",
            "at",
            "id",
            sqlite_where=text("kind = 'level'"),
            postgresql_where=text("kind = 'level'"),
        ),
    )

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    # Names, not foreign keys: the log outlives what it describes.
    collection: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    member: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH))
    kind: Mapped[str] = mapped_column(String(MAX_KIND_LENGTH))
    before: Mapped[int | None] = mapped_column(BigInteger)
    after: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(MAX_REASON_LENGTH))
    # The user who made it, by name (null: anonymous); like the stock names, a
    # name rather than a foreign key.
    by: Mapped[str | None] = mapped_column(String(MAX_NAME_LENGTH))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # What the movement went with, when anything: the batch (POST /batch) or the
    # transfer (POST /transfers) whose other movements share its id, or the
    # stocktake whose commit applied it.
    batch: Mapped[str | None] = mapped_column(String(GROUP_ID_LENGTH))
    transfer: Mapped[str | None] = mapped_column(String(GROUP_ID_LENGTH))
    stocktake: Mapped[int | None] = mapped_column(BigInteger)
    # A "level" movement's reorder level before and after (null: none); null
    # for every other kind.
    level_before: Mapped[int | None] = mapped_column(BigInteger)
    level_after: Mapped[int | None] = mapped_column(BigInteger)
    # A "code" movement's code before and after (null: none); null for every
    # other kind.
    code_before: Mapped[str | None] = mapped_column(String(MAX_CODE_LENGTH))
    code_after: Mapped[str | None] = mapped_column(String(MAX_CODE_LENGTH))
