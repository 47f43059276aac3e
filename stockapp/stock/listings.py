"""The reads behind the pages: collections with their totals, a collection's
members sorted and paged, one member, and the search over names.

Not hot paths: the statements are built per request where that reads more
clearly, but each one reads through an index, so its cost follows the page
shown, not the size of the stock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    literal_column,
    or_,
    select,
)

from ..core.cursors import MAX_ID, Pages, decode_position, encode_position
from ..core.database import dialect_name
from ..core.extensions import db
from ..core.rules import MAX_NAME_LENGTH, MAX_QUANTITY, ValidationError, name_problem
from .models import Collection, Member

SUMMARY_PAGES = Pages(prefix="after-summary:", default_limit=50, max_limit=500)
SEARCH_PAGES = Pages(prefix="after-match:", default_limit=50, max_limit=500)
# How many members a page of a collection shows: the clerk's choice, the first
# the default.
PAGE_SIZES = (50, 100, 200)
# How a collection's members may be listed: by name or quantity, "-" descending.
MEMBER_SORTS = ("name", "-name", "quantity", "-quantity")
# The collections a search names beside its members, at most.
MATCHING_COLLECTIONS = 20
# A cursor to the page after a row, and one to the page before a row.
_MEMBER_CURSOR = "members:"
_MEMBER_CURSOR_BACK = "members-before:"
_BAD_SORT = f"must be one of {', '.join(MEMBER_SORTS)}"
_BAD_SIZE = f"must be one of {', '.join(map(str, PAGE_SIZES))}"
_BAD_CURSOR = "is not a cursor this page gave out"
_LIKE_ESCAPE = "\\"


class CollectionSummary(NamedTuple):
    name: str
    version: int
    members: int
    total: int
    # How many of its members are at or below their reorder level.
    low: int


class MemberRow(NamedTuple):
    id: int
    name: str
    quantity: int
    reorder_level: int | None
    version: int
    # The barcode on the shelf (codes.py); None: none.
    code: str | None = None


class MemberListing(NamedTuple):
    """Which page of a collection's members to show, as its query string says."""

    sort: str
    # The sort keys of the row the page starts after (or, ``backward``, ends
    # before); None: the first page.
    position: list[Any] | None
    backward: bool
    size: int


class MembersPage(NamedTuple):
    """One page of a collection's members and what the page needs beside them."""

    # The collection's version: deleting it sends this as If-Match.
    version: int
    members: list[MemberRow]
    # The cursors of the pages after and before this one; None at either end.
    next_cursor: str | None
    previous_cursor: str | None
    # The place of the page's first member among all it lists (1-based), and
    # how many it lists (those whose name holds the text searched for).
    first: int
    total: int

    @property
    def last(self) -> int:
        return self.first + len(self.members) - 1


class SearchResult(NamedTuple):
    collections: list[str]
    members: list[tuple[str, str, int]]
    # The member id the next page of matches starts beyond; None: no more.
    next_after: int | None


# The collections overview ------------------------------------------------------

# How the overview may list the collections: oldest first (the default), by
# name A-Z, or most members first.
SUMMARY_SORTS = ("created", "name", "members")
_SUMMARY_CURSOR = "collections:"
_BAD_SUMMARY_SORT = f"must be one of {', '.join(SUMMARY_SORTS)}"


class SummaryListing(NamedTuple):
    """Which page of collections the overview shows, as its query string says."""

    sort: str
    # The sort keys of the row the page starts after; None: the first page.
    position: list[Any] | None
    limit: int


def summary_listing(args: Mapping[str, str]) -> SummaryListing:
    """The sort, position and page size of the overview's query string, checked."""
    sort = args.get("sort", SUMMARY_SORTS[0])
    if sort not in SUMMARY_SORTS:
        raise ValidationError({"sort": _BAD_SUMMARY_SORT})
    # The limit is checked as every list's; the cursor is a sorted position.
    limit, _ = SUMMARY_PAGES.params({k: v for k, v in args.items() if k == "limit"})
    assert limit is not None
    raw = args.get("cursor")
    if raw is None:
        return SummaryListing(sort, None, limit)
    position = decode_position(_SUMMARY_CURSOR, raw)
    if position is None or not _is_summary_position(sort, position):
        raise ValidationError({"cursor": _BAD_CURSOR})
    return SummaryListing(sort, position[1:], limit)


def _is_summary_position(sort: str, position: list[Any]) -> bool:
    if not position or position[0] != sort:
        return False
    keys = position[1:]
    if sort == "created":
        return len(keys) == 1 and _is_id(keys[0])
    if sort == "name":
        return len(keys) == 1 and isinstance(keys[0], str) and not name_problem(keys[0])
    return len(keys) == 2 and _is_id(keys[0]) and _is_id(keys[1])


def summary_cursor(
    listing: SummaryListing, last: CollectionSummary, row_id: int
) -> str:
    """The cursor of the page after ``last`` (whose id is ``row_id``)."""
    keys: list[Any] = {
        "created": [row_id],
        "name": [last.name],
        "members": [last.members, row_id],
    }[listing.sort]
    return encode_position(_SUMMARY_CURSOR, [listing.sort, *keys])


def collection_summaries(
    only: frozenset[str] | None, listing: SummaryListing
) -> tuple[list[CollectionSummary], str | None]:
    """A page of collections in the order ``listing`` says, each with its number
    of members, total quantity and low members; and the cursor of the next page
    (None: no more).

    Oldest first and by name read the collections through their primary key
    and unique name index, so a page costs the same at any size. Most members
    first cannot: a collection's size is not stored, so it is one grouped count
    over the (collection_id, id) index of every member, sorted; that walks the
    whole index on each page (a few milliseconds per 10,000 members) and is
    fine for thousands of collections and a few hundred thousand members, not
    for millions (store the count on the collection then).
    """
    position, limit = listing.position, listing.limit
    if listing.sort == "members":
        sizes = (
            select(Member.collection_id, func.count().label("size"))
            .group_by(Member.collection_id)
            .subquery()
        )
        members = func.coalesce(sizes.c.size, 0)
        page = select(
            Collection.id, Collection.name, Collection.version, members.label("size")
        ).outerjoin(sizes, sizes.c.collection_id == Collection.id)
        if position is not None:
            size, after_id = position
            page = page.where(
                and_(
                    members <= size,
                    or_(members < size, Collection.id > after_id),
                )
            )
        page = page.order_by(members.desc(), Collection.id)
    else:
        page = select(Collection.id, Collection.name, Collection.version)
        key = Collection.id if listing.sort == "created" else Collection.name
        if position is not None:
            page = page.where(key > position[0])
        page = page.order_by(key)
    if only is not None:
        page = page.where(Collection.name.in_(sorted(only)))
    rows = _with_totals(page.limit(limit + 1), listing.sort)
    next_cursor = None
    if len(rows) > limit:
        row_id, last = rows[limit - 1]
        next_cursor = summary_cursor(listing, last, row_id)
    return [summary for _, summary in rows[:limit]], next_cursor


def collection_summary(name: str) -> CollectionSummary | None:
    """One collection with its number of members and total quantity, or None."""
    page = select(Collection.id, Collection.name, Collection.version)
    rows = _with_totals(page.where(Collection.name == name), "created")
    return rows[0][1] if rows else None


def _with_totals(
    collections: Select[Any], sort: str
) -> list[tuple[int, CollectionSummary]]:
    """The (id, summary) of each collection ``collections`` selects (its id,
    name and version), in the order of ``sort``, in one statement.

    The members are counted, summed and their low ones counted for those
    collections only (through the (collection_id, ...) indexes), so the cost
    follows the page.
    """
    page = collections.subquery()
    # A sum of 64-bit quantities can pass 64 bits (SQLite then fails): each
    # half of the quantities is summed alone and the halves joined in Python.
    # (Constants in the SQL: PostgreSQL has no bigint >> smallint, the type
    # psycopg would give a small parameter.)
    high = func.coalesce(func.sum(Member.quantity.op(">>")(literal_column("32"))), 0)
    low = func.coalesce(
        func.sum(Member.quantity.op("&")(literal_column("4294967295"))), 0
    )
    # models.LOW_STOCK: at or below its level (no level: never low).
    low_members = func.count(Member.id).filter(Member.quantity <= Member.reorder_level)
    count = func.count(Member.id)
    order = {
        "created": (page.c.id,),
        "name": (page.c.name,),
        "members": (count.desc(), page.c.id),
    }[sort]
    rows = db.session.execute(
        select(page.c.id, page.c.name, page.c.version, count)
        .add_columns(high, low, low_members)
        .select_from(page.outerjoin(Member, Member.collection_id == page.c.id))
        .group_by(page.c.id, page.c.name, page.c.version)
        .order_by(*order)
    )
    return [
        (
            row_id,
            CollectionSummary(
                name, version, count, (int(hi) << 32) + int(lo), low_count
            ),
        )
        for row_id, name, version, count, hi, lo, low_count in rows
    ]


# One collection's members ------------------------------------------------------


def member_listing(args: Mapping[str, str]) -> MemberListing:
    """The sort, position and page size a query string asks for, checked."""
    sort = args.get("sort", "name")
    if sort not in MEMBER_SORTS:
        raise ValidationError({"sort": _BAD_SORT})
    size = args.get("size", str(PAGE_SIZES[0]))
    if size not in {str(choice) for choice in PAGE_SIZES}:
        raise ValidationError({"size": _BAD_SIZE})
    raw = args.get("cursor")
    if raw is None:
        return MemberListing(sort, None, False, int(size))
    backward = False
    position = decode_position(_MEMBER_CURSOR, raw)
    if position is None:
        backward = True
        position = decode_position(_MEMBER_CURSOR_BACK, raw)
    if position is None or not _is_position(sort, position):
        raise ValidationError({"cursor": _BAD_CURSOR})
    return MemberListing(sort, position, backward, int(size))


def _is_position(sort: str, position: list[Any]) -> bool:
    if len(position) != 3 or position[0] != sort or not _is_id(position[2]):
        return False
    key = position[1]
    if sort.endswith("name"):
        return isinstance(key, str) and name_problem(key) is None
    return type(key) is int and 0 <= key <= MAX_QUANTITY


def _is_id(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_ID


def members_page(
    collection: str, listing: MemberListing, text: str = ""
) -> MembersPage | None:
    """A page of the collection's members as ``listing`` says, only those
    whose name holds ``text`` if it is given; None if there is no such
    collection.

    Where the page stands ("151–200 of 5,000") is counted in one statement
    over the index the sort reads (never the table): both counts walk the
    collection's entries in it, which on 100,000 members is a few
    milliseconds (docs/performance.md).
    """
    found = db.session.execute(
        select(Collection.id, Collection.version).where(Collection.name == collection)
    ).one_or_none()
    if found is None:
        return None
    sort, position, backward, size = listing
    descending = sort.startswith("-")
    by_name = sort.endswith("name")
    # Names are unique within a collection; equal quantities go by id.
    keys = (Member.name,) if by_name else (Member.quantity, Member.id)
    listed = Member.collection_id == found.id
    if text:
        listed = and_(listed, _contains(Member.name, _pattern(text)))
    query = _member_columns().where(listed)
    # Backward: the rows before the position, read in the reverse order.
    reading_down = descending != backward
    if position is not None:
        query = query.where(_beyond(keys, position[1:], reading_down))
    order = [key.desc() for key in keys] if reading_down else keys
    rows = [
        MemberRow(*row)
        for row in db.session.execute(query.order_by(*order).limit(size))
    ]
    if backward:
        rows.reverse()
    if not rows:
        total = db.session.execute(select(func.count()).where(listed)).scalar_one()
        return MembersPage(found.version, [], None, None, 1, total)
    first, last = rows[0], rows[-1]
    before = _beyond(keys, _key_of(first, by_name), not descending)
    total, ahead = db.session.execute(
        select(func.count(), func.count().filter(before))
        .select_from(Member)
        .where(listed)
    ).one()
    previous_cursor = next_cursor = None
    if ahead:
        previous_cursor = encode_position(
            _MEMBER_CURSOR_BACK, [sort, *_key_of(first, by_name)]
        )
    if ahead + len(rows) < total:
        next_cursor = encode_position(_MEMBER_CURSOR, [sort, *_key_of(last, by_name)])
    return MembersPage(
        found.version, rows, next_cursor, previous_cursor, ahead + 1, total
    )


def _key_of(row: MemberRow, by_name: bool) -> list[Any]:
    """The sort keys of ``row``, as a cursor's position holds them."""
    return [row.name, row.id] if by_name else [row.quantity, row.id]


def _beyond(
    keys: tuple[Any, ...], position: list[Any], descending: bool
) -> ColumnElement:
    """The rows after ``position`` (the key values of the last row shown) in
    the order of ``keys``.

    The bound on ``key`` alone (redundant beside the rest) is what lets each
    database seek the (collection_id, key, ...) index to the spot instead of
    walking the collection from its start.
    """
    if len(keys) == 1:
        return keys[0] < position[0] if descending else keys[0] > position[0]
    key, tie = keys
    value, tie_value = position
    if descending:
        return and_(key <= value, or_(key < value, tie < tie_value))
    return and_(key >= value, or_(key > value, tie > tie_value))


def _member_columns() -> Select[Any]:
    return select(
        Member.id,
        Member.name,
        Member.quantity,
        Member.reorder_level,
        Member.version,
        Member.code,
    )


def member_details(collection: str, member: str) -> MemberRow | None:
    """One member as stored, or None if the collection or member is missing."""
    return db.session.execute(
        _member_columns()
        .join(Collection, Member.collection_id == Collection.id)
        .where(Collection.name == collection, Member.name == member)
    ).one_or_none()


# The search ---------------------------------------------------------------------


def search_text(args: Mapping[str, str]) -> str:
    """The search box's text from a query string ("" when there is none)."""
    text = args.get("q", "").strip()
    if len(text) > MAX_NAME_LENGTH:
        raise ValidationError({"q": f"must be at most {MAX_NAME_LENGTH} characters"})
    return text


def search(
    text: str, only: frozenset[str] | None, after_id: int, limit: int
) -> SearchResult:
    """Collections and members whose name holds ``text``, ignoring case, and
    the members whose code is ``text``.

    Members come in creation order after member ``after_id``, at most
    ``limit``. A substring can use no index: the members are scanned in id
    order until a page is found, which at 100,000 members stays in the tens of
    milliseconds (see docs/performance.md).
    """
    pattern = _pattern(text)
    collection_match = _contains(Collection.name, pattern)
    member_match = _contains(Member.name, pattern)
    members = (
        select(Member.id, Collection.name, Member.name, Member.quantity)
        .join(Collection, Member.collection_id == Collection.id)
        .where(
            Member.id > after_id,
            or_(member_match, collection_match, Member.code == text),
        )
        .order_by(Member.id)
        .limit(limit + 1)
    )
    collections = (
        select(Collection.name)
        .where(collection_match)
        .order_by(Collection.id)
        .limit(MATCHING_COLLECTIONS)
    )
    if only is not None:
        members = members.where(Collection.name.in_(sorted(only)))
        collections = collections.where(Collection.name.in_(sorted(only)))
    rows = db.session.execute(members).all()
    # The matching collections are listed once, above the first page.
    names = [] if after_id else list(db.session.execute(collections).scalars())
    next_after = rows[limit - 1].id if len(rows) > limit else None
    return SearchResult(
        names, [(row[1], row[2], row[3]) for row in rows[:limit]], next_after
    )


def _pattern(text: str) -> str:
    """The LIKE pattern of the names that hold ``text``."""
    for special in (_LIKE_ESCAPE, "%", "_"):
        text = text.replace(special, _LIKE_ESCAPE + special)
    return f"%{text}%"


def _contains(column: Any, pattern: str) -> ColumnElement:
    # SQLite's LIKE already ignores the case of ASCII letters (as its lower()
    # does); PostgreSQL's does not, so it is asked for ILIKE.
    if dialect_name() == "postgresql":
        return column.ilike(pattern, escape=_LIKE_ESCAPE)
    return column.like(pattern, escape=_LIKE_ESCAPE)
