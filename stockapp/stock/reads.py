"""The reads behind the API and the pages: each one query, whatever the stock's size."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, or_, select

from ..core.cursors import (
    BAD_CURSOR,
    MAX_ID,
    Pages,
    decode_position,
    encode_position,
)
from ..core.database import RowStream, read
from ..core.rules import ValidationError, name_problem
from .models import Collection, Member
from .statements import (
    COLLECTION_PAGE,
    COLLECTION_VERSION,
    MEMBER_CODE,
    MEMBER_QUANTITY,
    MEMBER_REORDER_LEVEL,
    MEMBERS_WITH_CODE,
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


def member_code(collection: str, member: str) -> tuple[str | None, int] | None:
    """The code (None: none) and version of ``member``, or None if the member
    does not exist."""
    rows = read(MEMBER_CODE, collection=collection, member=member)
    return (rows[0].code, rows[0].version) if rows else None


def members_with_code(code: str) -> list[Any]:
    """(collection, member, quantity) of each member carrying ``code``, in
    every collection, oldest first: one index lookup."""
    return list(read(MEMBERS_WITH_CODE, code=code))


def low_stock_count(only: frozenset[str] | None) -> int:
    """How many members are at or below their reorder level, in the collections
    in ``only`` (None: all); counted through the index of the low members."""
    rows = read(
        for_dialect().low_stock_count,
        only=None if only is None else names_parameter(only),
    )
    return rows[0].count


# The low-stock list, filtered and sorted -----------------------------------------

# How the low-stock list may be ordered: oldest member first (the default, the
# API's order since it began), or the largest shortfall first.
LOW_STOCK_SORTS = ("created", "shortfall")
_LOW_CURSOR = "low:"
_BAD_LOW_SORT = f"must be one of {', '.join(LOW_STOCK_SORTS)}"


class LowStockListing(NamedTuple):
    """Which low members to list, as a query string says."""

    sort: str
    # Only this collection's (None: every collection the caller sees).
    collection: str | None
    # The sort keys of the row the page starts after; None: the first page.
    position: list[int] | None
    limit: int


class LowMember(NamedTuple):
    id: int
    collection: str
    member: str
    quantity: int
    reorder_level: int

    @property
    def shortfall(self) -> int:
        """How far below its level it is (0: at its level)."""
        return self.reorder_level - self.quantity


def low_stock_listing(args: Mapping[str, str]) -> LowStockListing:
    """The sort, collection, position and page size a query string asks for,
    checked. Oldest first takes the id cursors it always has; by shortfall
    takes cursors naming a shortfall and an id."""
    sort = args.get("sort", LOW_STOCK_SORTS[0])
    errors: dict[str, str] = {}
    if sort not in LOW_STOCK_SORTS:
        errors["sort"] = _BAD_LOW_SORT
    collection = args.get("collection")
    if collection is not None and (why := name_problem(collection)):
        errors["collection"] = why
    if errors:
        raise ValidationError(errors)
    if sort == "created":
        limit, after_id = LOW_STOCK_PAGES.params(args)
        assert limit is not None
        position = None if after_id is None else [after_id]
        return LowStockListing(sort, collection, position, limit)
    limit, _ = LOW_STOCK_PAGES.params({k: v for k, v in args.items() if k == "limit"})
    assert limit is not None
    raw = args.get("cursor")
    if raw is None:
        return LowStockListing(sort, collection, None, limit)
    position = decode_position(_LOW_CURSOR, raw)
    if (
        position is None
        or len(position) != 3
        or position[0] != sort
        or not all(type(key) is int and 0 <= key <= MAX_ID for key in position[1:])
    ):
        raise ValidationError({"cursor": BAD_CURSOR})
    return LowStockListing(sort, collection, position[1:], limit)


def low_stock_cursor(listing: LowStockListing, last: LowMember) -> str:
    """The cursor of the page after ``last``."""
    if listing.sort == "created":
        return LOW_STOCK_PAGES.encode(last.id)
    return encode_position(_LOW_CURSOR, [listing.sort, last.shortfall, last.id])


def low_members(
    only: frozenset[str] | None, listing: LowStockListing, limit: int | None = None
) -> list[LowMember]:
    """The low members ``listing`` asks for, in the collections in ``only``
    (None: all), at most ``limit`` (None: the listing's).

    Read through the index of the low members only (its own condition is in
    the WHERE), so the cost follows how many members are low, never the size
    of the stock; by shortfall, those low members are sorted as they are read.
    """
    query = _low_members_query(only, listing)
    query = query.limit(listing.limit if limit is None else limit)
    return [LowMember(*row) for row in read(query)]


def _low_members_query(
    only: frozenset[str] | None, listing: LowStockListing
) -> Select[Any]:
    shortfall = Member.reorder_level - Member.quantity
    query = (
        select(
            Member.id,
            Collection.name,
            Member.name,
            Member.quantity,
            Member.reorder_level,
        )
        .join(Collection, Member.collection_id == Collection.id)
        # models.LOW_STOCK, the partial index's own condition.
        .where(Member.quantity <= Member.reorder_level)
    )
    if listing.collection is not None:
        query = query.where(Collection.name == listing.collection)
    if only is not None:
        query = query.where(Collection.name.in_(sorted(only)))
    position = listing.position
    if listing.sort == "created":
        if position is not None:
            query = query.where(Member.id > position[0])
        return query.order_by(Member.id)
    if position is not None:
        value, after_id = position
        query = query.where(
            and_(shortfall <= value, or_(shortfall < value, Member.id > after_id))
        )
    return query.order_by(shortfall.desc(), Member.id)


def stream_low_members(
    only: frozenset[str] | None, listing: LowStockListing
) -> RowStream:
    """Every low member ``listing`` asks for, from its position on, streamed as
    it is read (no limit): (id, collection, member, quantity, reorder_level)."""
    return RowStream(_low_members_query(only, listing), {})


def collection_exists(name: str) -> bool:
    """Whether there is a collection named ``name``."""
    return bool(read(select(Collection.id).where(Collection.name == name)))
