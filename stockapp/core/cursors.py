"""Keyset pages: the ``limit`` and opaque ``cursor`` of a list, and its next link.

A cursor names the id a page starts beyond, so page 1000 costs what page 1
does (no OFFSET), and rows added or removed meanwhile never shift a page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import request, url_for

from .rules import ValidationError

BAD_CURSOR = "is not a cursor this API gave out"
# A cursor is base64url of "<prefix><id>", without padding; ids have at most 19
# digits (64 bits). The OpenAPI document states the pattern from these.
CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"
# Ids are 64-bit signed on both backends: a cursor naming a larger one was not
# given out, and must not reach the database (SQLite cannot bind it).
MAX_ID = 2**63 - 1
_MAX_ID_DIGITS = 19


@dataclass(frozen=True)
class Pages:
    """How one kind of list is paged."""

    # Spelled into every cursor, so that one list's cursor is refused by another.
    prefix: str
    default_limit: int
    max_limit: int

    def params(
        self, args: Mapping[str, str], *, whole_by_default: bool = False
    ) -> tuple[int | None, int | None]:
        """``limit`` and the id in ``cursor`` from a query string, checked.

        With ``whole_by_default`` a request naming neither asks for the whole
        list (limit None); otherwise the default limit applies.
        """
        errors: dict[str, str] = {}
        raw_limit = args.get("limit")
        raw_cursor = args.get("cursor")
        limit: int | None = self.default_limit
        if raw_limit is None and raw_cursor is None and whole_by_default:
            limit = None
        if raw_limit is not None:
            if raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 4:
                limit = int(raw_limit)
            if raw_limit != str(limit) or not 1 <= (limit or 0) <= self.max_limit:
                errors["limit"] = f"must be a whole number from 1 to {self.max_limit}"
        key = None
        if raw_cursor is not None:
            key = self._decode(raw_cursor)
            if key is None:
                errors["cursor"] = BAD_CURSOR
        if errors:
            raise ValidationError(errors)
        return limit, key

    def encode(self, key: int) -> str:
        """The opaque cursor of the page that starts beyond id ``key``."""
        raw = f"{self.prefix}{key}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def next_url(self, limit: int, key: int, **keep: str) -> str:
        """The URL of this request's next page, beyond id ``key``; ``keep`` adds
        query arguments the next page needs too (a search's text)."""
        args = {**keep, "limit": limit, "cursor": self.encode(key)}
        return url_for(request.endpoint or "", **(request.view_args or {}), **args)

    def next_link(self, limit: int, key: int) -> dict[str, str]:
        """The ``Link`` header to this request's next page, beyond id ``key``."""
        return {"Link": f'<{self.next_url(limit, key)}>; rel="next"'}

    def _decode(self, cursor: str) -> int | None:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        except (UnicodeError, binascii.Error, ValueError):
            return None
        digits = text.removeprefix(self.prefix)
        if text == digits or not digits.isdigit() or len(digits) > _MAX_ID_DIGITS:
            return None
        key = int(digits)
        return key if key <= MAX_ID else None


def encode_position(prefix: str, position: list[str | int]) -> str:
    """An opaque cursor naming a position in a sorted list: the sort key of the
    row a page starts beyond, as base64url of ``prefix`` and a JSON array."""
    raw = prefix + json.dumps(position, ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_position(prefix: str, cursor: str) -> list[Any] | None:
    """The position in a cursor ``encode_position`` gave out with ``prefix``,
    or None for anything else (its values are for the caller to check)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (UnicodeError, binascii.Error, ValueError):
        return None
    if not text.startswith(prefix):
        return None
    try:
        position = json.loads(text.removeprefix(prefix))
    except (ValueError, RecursionError):
        return None
    return position if isinstance(position, list) else None
