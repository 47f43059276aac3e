"""Import drafts: a file the import page's dry run read, kept so that "Import
these changes" imports exactly it without choosing the file again.

A draft lives in the database, so any worker serves the next request. It is
its maker's alone, lives ``DRAFT_LIFETIME``, goes once imported, and each
maker keeps at most ``MAX_DRAFTS_PER_OWNER`` (saving one prunes the expired
and the oldest), so the table stays small however many files are tried.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Index,
    LargeBinary,
    String,
    delete,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..access.identity import actor
from ..core.clock import utcnow
from ..core.database import (
    read,
    retry_serialization_failures,
    write_connection,
    write_transaction,
)
from ..core.errors import Problem
from ..core.extensions import db
from ..core.rules import MAX_NAME_LENGTH
from .imports import MODES, import_as_caller, read_import

DRAFT_LIFETIME = timedelta(hours=1)
MAX_DRAFTS_PER_OWNER = 3
FORMATS = ("csv", "json")
# secrets.token_urlsafe(32): 32 random bytes, 43 characters.
TOKEN_LENGTH = 43
NO_DRAFT = "No such import"


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"


class ImportDraft(db.Model):
    """One file a dry run read, waiting to be imported by whoever uploaded it."""

    __tablename__ = "import_drafts"
    __table_args__ = (
        CheckConstraint(_one_of("file_format", FORMATS), name="file_format_known"),
        CheckConstraint(_one_of("mode", MODES), name="mode_known"),
        # A maker's drafts, oldest first: the bound keeps the newest.
        Index("ix_import_drafts_owner_created_at", "owner", "created_at"),
    )

    # Random and unguessable; in the preview's address.
    token: Mapped[str] = mapped_column(String(TOKEN_LENGTH), primary_key=True)
    # The user who uploaded it (None: an anonymous caller, where allowed).
    owner: Mapped[str | None] = mapped_column(String(MAX_NAME_LENGTH))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    file_format: Mapped[str] = mapped_column(String(4))
    mode: Mapped[str] = mapped_column(String(7))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow
    )


class Draft(NamedTuple):
    """A draft as read back: its file, that file's format, and the mode."""

    token: str
    content: bytes
    file_format: str
    mode: str


def _mine(token: str) -> Any:
    """The condition that picks draft ``token`` if it is the caller's and alive."""
    return (
        (ImportDraft.token == token)
        & ImportDraft.owner.is_not_distinct_from(actor())
        & (ImportDraft.created_at > utcnow() - DRAFT_LIFETIME)
    )


def _no_draft() -> Problem:
    # The same answer for a draft that never was, is gone or is another's: an
    # address tells nobody whether someone else's draft exists.
    return Problem(
        404,
        NO_DRAFT,
        "There is no such import to see or make: it was imported already, it"
        " expired (an hour after the file was tried), or another user tried"
        " that file. Choose the file again.",
    )


@retry_serialization_failures
def save_draft(content: bytes, file_format: str, mode: str) -> str:
    """Keep the caller's file for an import to come; its token."""
    token = secrets.token_urlsafe(32)
    owner = actor()
    now = utcnow()
    mine = ImportDraft.owner.is_not_distinct_from(owner)
    newest = (
        select(ImportDraft.token)
        .where(mine)
        .order_by(ImportDraft.created_at.desc(), ImportDraft.token)
        .limit(MAX_DRAFTS_PER_OWNER)
    )
    with write_transaction():
        connection = write_connection()
        connection.execute(
            delete(ImportDraft).where(ImportDraft.created_at <= now - DRAFT_LIFETIME)
        )
        connection.execute(
            insert(ImportDraft).values(
                token=token,
                owner=owner,
                content=content,
                file_format=file_format,
                mode=mode,
                created_at=now,
            )
        )
        connection.execute(
            delete(ImportDraft).where(mine, ImportDraft.token.not_in(newest))
        )
    return token


def draft_of(token: str) -> Draft:
    """The caller's live draft ``token``; 404 when there is none."""
    rows = read(
        select(
            ImportDraft.token,
            ImportDraft.content,
            ImportDraft.file_format,
            ImportDraft.mode,
        ).where(_mine(token))
    )
    if not rows:
        raise _no_draft()
    return Draft(*rows[0])


@retry_serialization_failures
def import_draft(token: str) -> dict[str, Any]:
    """Import the caller's draft ``token`` and forget it, in one transaction;
    the import's report (404 when there is no such draft, ImportRefused if
    the file no longer reads, both storing nothing)."""
    with write_transaction():
        taken = (
            write_connection()
            .execute(
                delete(ImportDraft)
                .where(_mine(token))
                .returning(
                    ImportDraft.content, ImportDraft.file_format, ImportDraft.mode
                )
            )
            .one_or_none()
        )
        if taken is None:
            raise _no_draft()
        content, file_format, mode = taken
        return import_as_caller(
            read_import(content, file_format),
            replace=mode == "replace",
            dry_run=False,
        )
