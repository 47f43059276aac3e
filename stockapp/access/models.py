"""Who may use stockapp: users with a role, and the API tokens they hold."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..core.clock import utcnow
from ..core.cursors import MAX_ID
from ..core.extensions import ID_TYPE, db
from ..core.rules import MAX_NAME_LENGTH
from .scopes import ROLES, SCOPES

MAX_LABEL_LENGTH = 100
# The largest id a token can have: routes take no larger one.
MAX_TOKEN_ID = MAX_ID


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="role_known"),)

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_LENGTH), unique=True)
    # An Argon2id hash in PHC string format; never the password itself.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10))
    disabled: Mapped[bool] = mapped_column(default=False, server_default="0")
    # Part of every session's id: bumped when the user is disabled, so that no
    # session cookie from before, even a copied one, works again after.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow
    )


class ApiToken(db.Model):
    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(_one_of("scope", SCOPES), name="scope_known"),)

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ID_TYPE, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(MAX_LABEL_LENGTH))
    scope: Mapped[str] = mapped_column(String(10))
    # SHA-256 of the secret, hex: a leaked table gives no usable token.
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    # The collections the token is limited to; SQL NULL (not JSON null) for
    # every collection, so that "collections IS NULL" finds the unlimited ones.
    collections: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow
    )
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
