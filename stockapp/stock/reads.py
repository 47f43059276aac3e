"""The reads behind the API and the pages: each one query, whatever the stock's size."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Iterator
from typing import Any

from ..core.cursors import Pages
from ..core.database import RowStream, read
from .statements import (
    COLLECTION_PAGE,
    COLLECTION_VERSION,
    MEMBER_QUANTITY,
    MEMBER_REORDER_LEVEL,
    STOCK_ROWS,
    for_dialect,
    names_parameter,
)

Stock = dict[str, int]

# Pages of collections (GET /stock) and of one collection's members, in creation
# order: a cursor names the id a page starts beyond.
_PAGE_SIZES = {"default_limit": 100, "max_limit": 1000}
COLLECTION_PAGES = Pages(prefix="after-collection:", **_PAGE_SIZES)
MEMBER_PAGES = Pages(prefix="after-member:", **_PAGE_SIZES)
LOW_STOCK_PAGES = Pages(prefix="after-low:", **_PAGE_SIZES)
# A LIMIT that lets every row through (SQLite and PostgreSQL both take it).
_NO_LIMIT = 2**62
# How much of a streamed document is gathered before it is sent.
_CHUNK = 64 * 1024


def all_stock(only: frozenset[str] | None = None) -> dict[str, Stock]:
    """Every collection (or those named in ``only``) with its members, in the
    order they were created."""
    stock: dict[str, Stock] = {}
    for collection, member, quantity in read(STOCK_ROWS):
        if only is not None and collection not in only:
            continue
        members = stock.setdefault(collection, {})
        if member is not None:
            members[member] = quantity
    return stock


def stock_json(rows: Iterable[Any]) -> Iterator[str]:
    """The stock document, ``{collection: {member: quantity}}``, from the rows of
    ``stock_objects``, in pieces of about ``_CHUNK`` characters."""
    pieces, size, separator = ["{"], 0, ""
    for _, name, members_json, *_ in rows:
        # Raw UTF-8, like the members' JSON the database wrote.
        pieces += (separator, json.dumps(name, ensure_ascii=False), ":", members_json)
        separator = ","
        size += len(name) + len(members_json)
        if size >= _CHUNK:
            yield "".join(pieces)
            pieces, size = [], 0
    pieces.append("}\n")
    yield "".join(pieces)


def stock_objects(
    only: frozenset[str] | None, after_id: int, limit: int | None
) -> RowStream:
    """(id, name, members as a JSON object) of each collection after ``after_id``,
    oldest first, at most ``limit`` (None: all), those in ``only`` (None: all).

    The database builds each collection's JSON; the rows arrive as they are
    iterated, so the whole stock never sits in memory. Close it when done.
    """
    params = {
        "after_id": after_id,
        "limit": _NO_LIMIT if limit is None else limit,
        "only": _only(only),
    }
    return RowStream(for_dialect().stock_objects, params)


def _only(only: frozenset[str] | None) -> str | None:
    return None if only is None else names_parameter(only)


def stock_tag(version: str, only: frozenset[str] | None) -> str:
    """The tag of the stock at ``version`` (statements' stock_version text) as
    seen by a caller limited to ``only`` (None: everything)."""
    seen = "" if only is None else json.dumps(sorted(only))
    digest = hashlib.blake2b(f"{version}/{seen}".encode(), digest_size=8)
    return digest.hexdigest()


# The text of an empty stock's version (no collection, both sums 0).
_EMPTY_STOCK = "0.0.0"


def stock_version(only: frozenset[str] | None) -> str:
    """The tag of the stock the caller sees now (one small query): it changes
    whenever any collection it sees, or any member of one, does."""
    version = read(for_dialect().stock_version, only=_only(only))[0][0]
    return stock_tag(version, only)


def whole_stock(only: frozenset[str] | None) -> tuple[str, Iterator[str], RowStream]:
    """The tag of the stock the caller sees and its document, streamed as it is
    read, from one statement (so of one snapshot); close the stream when done."""
    stream = stock_objects(only, 0, None)
    rows = iter(stream)
    first = next(rows, None)
    if first is None:
        return stock_tag(_EMPTY_STOCK, only), stock_json(()), stream
    version = stock_tag(first.stock_version, only)
    return version, stock_json(itertools.chain((first,), rows)), stream


def collection_version(name: str) -> int | None:
    """The collection's version (its ETag's), or None if there is none."""
    rows = read(COLLECTION_VERSION, collection=name)
    return rows[0][0] if rows else None


def collection_page(
    name: str, after_id: int, limit: int | None
) -> tuple[list[tuple[int, str, int]], int] | None:
    """The (id, name, quantity) of the collection's members after member
    ``after_id`` in creation order, at most ``limit`` (None: all), and the
    collection's version. None if the collection does not exist.
    """
    rows = read(
        COLLECTION_PAGE,
        collection=name,
        after_id=after_id,
        limit=_NO_LIMIT if limit is None else limit,
    )
    if not rows:
        return None
    members = [(row.id, row.name, row.quantity) for row in rows if row.id is not None]
    return members, rows[0].version


def member_quantity(collection: str, member: str) -> tuple[int, int] | None:
    """The quantity and version of ``member`` in ``collection``, or None if absent."""
    rows = read(MEMBER_QUANTITY, collection=collection, member=member)
    return (rows[0].quantity, rows[0].version) if rows else None


def reorder_level(collection: str, member: str) -> tuple[int | None, int] | None:
    """The reorder level (None: none set) and version of ``member``, or None if
    the member does not exist."""
    rows = read(MEMBER_REORDER_LEVEL, collection=collection, member=member)
    return (rows[0].reorder_level, rows[0].version) if rows else None


def low_stock(only: frozenset[str] | None, after_id: int, limit: int) -> list[Any]:
    """(id, collection, member, quantity, reorder_level) of the members at or
    below their reorder level after member ``after_id``, oldest first, at most
    ``limit``, in the collections in ``only`` (None: all).

    Read through an index of the low members only: the cost follows what is
    listed, not the size of the stock.
    """
    return read(
        for_dialect().low_stock,
        after_id=after_id,
        limit=limit,
        only=None if only is None else names_parameter(only),
    )


def low_stock_count(only: frozenset[str] | None) -> int:
    """How many members are at or below their reorder level, in the collections
    in ``only`` (None: all); counted through the index of the low members."""
    rows = read(
        for_dialect().low_stock_count,
        only=None if only is None else names_parameter(only),
    )
    return rows[0].count
