"""The SQL of the stock's hot paths, built once and run with Core.

Building a SQLAlchemy statement costs far more than running it (operator
overloading, coercions); these are built at import, or once per dialect, with
``bindparam`` placeholders, and run on a Core connection rather than through
the ORM session.

Lists of names travel as one JSON array parameter (``json_each`` on SQLite,
``json_array_elements_text`` on PostgreSQL), so a statement has the same text
and one parameter whatever the number of names.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Executable,
    Insert,
    Select,
    String,
    Update,
    bindparam,
    cast,
    delete,
    func,
    insert,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ..access.identity import TOKEN_BY_DIGEST
from ..core.database import dialect_name
from ..history.models import GROUPS, Movement
from .models import Collection, Member

collections = Collection.__table__
members = Member.__table__
movements = Movement.__table__


def names_parameter(names: Iterable[str]) -> str:
    """A list of names as the one parameter the statements below take."""
    return json.dumps(list(names))


# Reads -----------------------------------------------------------------------


def _of_member(*columns: Any) -> Select[Any]:
    """``columns`` of the member named ``member`` in collection ``collection``."""
    return (
        select(*columns)
        .select_from(
            members.join(collections, members.c.collection_id == collections.c.id)
        )
        .where(
            collections.c.name == bindparam("collection"),
            members.c.name == bindparam("member"),
        )
    )


MEMBER_QUANTITY = _of_member(members.c.quantity, members.c.version)
# A bearer token's row (TOKEN_BY_DIGEST) and the member's quantity and version
# (None when it does not exist): a read with a token in one statement, one
# round trip on PostgreSQL (member_shortcut.py).
TOKEN_AND_MEMBER_QUANTITY = (
    TOKEN_BY_DIGEST.add_columns(members.c.quantity, members.c.version)
    .outerjoin(collections, collections.c.name == bindparam("collection"))
    .outerjoin(
        members,
        (members.c.collection_id == collections.c.id)
        & (members.c.name == bindparam("member")),
    )
)

# A collection's version and (after ``after_id``, up to ``limit``) its members.
COLLECTION_VERSION = select(collections.c.version).where(
    collections.c.name == bindparam("collection")
)
COLLECTION_PAGE = (
    select(collections.c.version, members.c.id, members.c.name, members.c.quantity)
    .select_from(
        collections.outerjoin(
            members,
            (members.c.collection_id == collections.c.id)
            & (members.c.id > bindparam("after_id")),
        )
    )
    .where(collections.c.name == bindparam("collection"))
    .order_by(members.c.id)
    .limit(bindparam("limit"))
)

# A member's reorder level (null: none set) and version.
MEMBER_REORDER_LEVEL = _of_member(members.c.reorder_level, members.c.version)
# A member's code (null: none) and version.
MEMBER_CODE = _of_member(members.c.code, members.c.version)
# The member of a collection carrying a code.
MEMBER_WITH_CODE = (
    select(members.c.name)
    .select_from(members.join(collections, members.c.collection_id == collections.c.id))
    .where(
        collections.c.name == bindparam("collection"),
        members.c.code == bindparam("code"),
    )
)
# Every member carrying a code, in every collection, oldest first.
MEMBERS_WITH_CODE = (
    select(
        collections.c.name.label("collection"),
        members.c.name.label("member"),
        members.c.quantity,
    )
    .select_from(members.join(collections, members.c.collection_id == collections.c.id))
    .where(members.c.code == bindparam("code"))
    .order_by(members.c.id)
)

# The stock as rows of (collection, member, quantity), in creation order; an
# empty collection has one row with a null member.
STOCK_ROWS = (
    select(collections.c.name, members.c.name, members.c.quantity)
    .select_from(
        collections.outerjoin(members, members.c.collection_id == collections.c.id)
    )
    .order_by(collections.c.id, members.c.id)
)


# Writes ----------------------------------------------------------------------

LOCK_COLLECTION = (
    select(collections.c.id, collections.c.version)
    .where(collections.c.name == bindparam("name"))
    .with_for_update()
)

INSERT_COLLECTION = (
    insert(collections)
    .values(name=bindparam("name"), version=bindparam("version"))
    .returning(collections.c.id, collections.c.version)
)


def _bump_collection(version: str) -> Update:
    """The collection ``collection_id``'s version set to the bound ``version``."""
    return (
        update(collections)
        .where(collections.c.id == bindparam("collection_id"))
        .values(version=bindparam(version))
    )


BUMP_COLLECTION = _bump_collection("new_version")

DELETE_COLLECTION = delete(collections).where(
    collections.c.id == bindparam("collection_id")
)

INSERT_MEMBERS = insert(members).values(
    {name: bindparam(name) for name in ("collection_id", "name", "quantity", "version")}
)

UPDATE_MEMBERS = (
    update(members)
    .where(members.c.id == bindparam("member_id"))
    .values(quantity=bindparam("new_quantity"), version=bindparam("new_version"))
)

DELETE_MEMBERS = delete(members).where(members.c.id == bindparam("member_id"))

# Set a member's reorder level (or code), unless it already is that: its new
# version, or no row.
SET_REORDER_LEVEL = (
    update(members)
    .where(
        members.c.id == bindparam("member_id"),
        members.c.reorder_level.is_distinct_from(bindparam("level")),
    )
    .values(reorder_level=bindparam("level"), version=members.c.version + 1)
    .returning(members.c.version)
)
SET_CODE = (
    update(members)
    .where(
        members.c.id == bindparam("member_id"),
        members.c.code.is_distinct_from(bindparam("code")),
    )
    .values(code=bindparam("code"), version=members.c.version + 1)
    .returning(members.c.version)
)

# One movement, its id returned; several go through INSERT_MOVEMENTS (Core's
# multi-row VALUES, ids returned too).
INSERT_MOVEMENT = (
    insert(movements)
    .values(
        {
            name: bindparam(name)
            for name in ("collection", "member", "kind", "before", "after", "reason")
            + ("by", "at")
        }
    )
    .returning(movements.c.id)
)
# The same, naming the batch, transfer or stocktake the movement went with.
INSERT_GROUPED_MOVEMENT = (
    insert(movements)
    .values(
        {
            name: bindparam(name)
            for name in ("collection", "member", "kind", "before", "after", "reason")
            + ("by", "at", *GROUPS)
        }
    )
    .returning(movements.c.id)
)


def _after_one_update(statement: Insert) -> Insert:
    """``statement`` (one movement's INSERT) with UPDATE_MEMBERS of one member
    and BUMP_COLLECTION (to ``collection_version``) as data-modifying CTEs:
    PostgreSQL's one statement for a write of one member's quantity (see
    update_and_log_arrays for many)."""
    # Its own name for the collection's version: UPDATE_MEMBERS's new_version
    # is the member's.
    bumped = _bump_collection("collection_version")
    return statement.add_cte(UPDATE_MEMBERS.cte("updated"), bumped.cte("bumped"))


INSERT_MOVEMENT_AFTER_UPDATE = _after_one_update(INSERT_MOVEMENT)
INSERT_GROUPED_MOVEMENT_AFTER_UPDATE = _after_one_update(INSERT_GROUPED_MOVEMENT)


def _insert_change_of(before: str, after: str) -> Any:
    """The INSERT of a change of one of a member's details (a "level" or
    "code" movement): its quantity twice, the detail ``before`` and ``after``,
    and what it went with (a batch), if anything; its id returned."""
    names = ("collection", "member", "kind", "before", "after", "reason", "by", "at")
    return (
        insert(movements)
        .values({name: bindparam(name) for name in (*names, *GROUPS, before, after)})
        .returning(movements.c.id)
    )


INSERT_LEVEL_MOVEMENT = _insert_change_of("level_before", "level_after")
INSERT_CODE_MOVEMENT = _insert_change_of("code_before", "code_after")
INSERT_MOVEMENTS = insert(movements).returning(movements.c.id, movements.c.member)
# PostgreSQL's: the rows as one array per column, unnested. Its text is the
# same whatever the number of rows, so the driver parses it once rather than a
# VALUES list of a thousand rows on every write (a few ms for 100 rows).
_MOVEMENT_ARRAYS = (
    ("collection", "text"),
    ("member", "text"),
    ("kind", "text"),
    ("before", "bigint"),
    ("after", "bigint"),
    ("reason", "text"),
    ("by", "text"),
    ("at", "timestamptz"),
    ("batch", "text"),
    ("transfer", "text"),
    ("stocktake", "bigint"),
)
_ARRAY_TYPES = dict(_MOVEMENT_ARRAYS)


@functools.cache
def insert_movement_arrays(columns: tuple[str, ...]) -> Any:
    """The unnest INSERT of ``columns`` (the group columns only when a row
    names one, as INSERT_MOVEMENTS names only the columns given: the code runs
    on a database not yet migrated to them)."""
    return text(
        "INSERT INTO movements ("
        + ", ".join(f'"{column}"' for column in columns)
        + ") SELECT * FROM unnest("
        + ", ".join(
            f"CAST(:{column} AS {_ARRAY_TYPES[column]}[])" for column in columns
        )
        + ") RETURNING id, member"
    )


MOVEMENT_ARRAY_COLUMNS = tuple(column for column, _ in _MOVEMENT_ARRAYS)
# UPDATE_MEMBERS for many members in one statement on PostgreSQL, the same way
# (an executemany sends one statement per member through the pipeline).
_UPDATE_MEMBER_ARRAYS = (
    "UPDATE members SET quantity = given.quantity, version = given.version"
    " FROM unnest(CAST(:member_id AS bigint[]), CAST(:new_quantity AS bigint[]),"
    " CAST(:new_version AS bigint[])) AS given(id, quantity, version)"
    " WHERE members.id = given.id"
)


@functools.cache
def update_and_log_arrays(columns: tuple[str, ...]) -> Any:
    """PostgreSQL's one statement for a write that only changes quantities:
    the members' UPDATE_MEMBERS (as arrays) and BUMP_COLLECTION (``collection_id``
    to ``collection_version``) as data-modifying CTEs of the movements'
    insert_movement_arrays, so three round trips become one. (The CTEs run
    whether or not the INSERT reads them, in the same snapshot; they change
    rows of other tables, so no statement sees another's effect.)"""
    return text(
        f"WITH updated AS ({_UPDATE_MEMBER_ARRAYS}),"
        " bumped AS (UPDATE collections SET version = :collection_version"
        " WHERE collections.id = :collection_id) "
        + insert_movement_arrays(columns).text
    )


def _set_one_quantity(groups: tuple[str, ...]) -> Any:
    """PostgreSQL's one statement for a write that sets one member of
    collection ``name`` to ``quantity``, sent in the same round trip as
    LOCK_COLLECTION (ledger.lock_collection_setting_one): the member as it was
    and, when it exists with another quantity, its update, the collection's
    next version and the movement (naming what it went with: ``groups``),
    whose id comes back. No row: no such member (or collection).

    Every writer of a member holds its collection's lock, so, run after the
    lock, its read is the member as it is now and its writes are the lock
    holder's."""
    logged = ("collection", "member", "kind", "reason", "by", "at", *groups)
    return text(
        "WITH stored AS ("
        " SELECT members.id, members.quantity, members.version,"
        " members.reorder_level, collections.id AS collection_id,"
        " collections.version AS collection_version"
        " FROM members JOIN collections ON collections.id = members.collection_id"
        " WHERE collections.name = :collection AND members.name = :member),"
        " changing AS (SELECT * FROM stored"
        " WHERE quantity <> CAST(:quantity AS bigint)),"
        " updated AS (UPDATE members SET quantity = CAST(:quantity AS bigint),"
        " version = changing.version + 1 FROM changing"
        " WHERE members.id = changing.id),"
        " bumped AS (UPDATE collections SET version = changing.collection_version + 1"
        " FROM changing WHERE collections.id = changing.collection_id),"
        " logged AS (INSERT INTO movements (before, after, "
        + ", ".join(f'"{column}"' for column in logged)
        + ") SELECT changing.quantity, CAST(:quantity AS bigint), "
        + ", ".join(f"CAST(:{column} AS {_ARRAY_TYPES[column]})" for column in logged)
        + " FROM changing RETURNING id)"
        " SELECT stored.id, stored.quantity, stored.version, stored.reorder_level,"
        " (SELECT id FROM logged) AS movement_id FROM stored"
    )


SET_ONE_QUANTITY = _set_one_quantity(())
SET_ONE_GROUPED_QUANTITY = _set_one_quantity(GROUPS)


def _adjust(in_range: Any) -> Executable:
    return (
        update(members)
        .where(members.c.id == bindparam("member_id"), in_range)
        .values(
            quantity=members.c.quantity + bindparam("delta"),
            version=members.c.version + 1,
        )
        .returning(members.c.quantity, members.c.version)
    )


# "quantity + delta stays in 0..2^63-1", written so that nothing in it can
# overflow 64 bits: one statement for each sign of the delta.
TAKE_FROM_MEMBER = _adjust(members.c.quantity >= bindparam("at_least"))
ADD_TO_MEMBER = _adjust(members.c.quantity <= bindparam("at_most"))


@dataclass(frozen=True)
class DialectStatements:
    """The statements whose SQL differs between SQLite and PostgreSQL."""

    # A new collection, or no row if the name is taken.
    insert_collection_if_absent: Insert
    # Members of ``collection_id`` named in ``names``, in no particular order.
    members_named: Select[Any]
    # The same, of the collection named ``name``: on PostgreSQL the read sent
    # with the lock, before the collection's id is known (ledger.py).
    members_named_in_collection: Select[Any]
    # Collection ``name`` locked, with its members named in ``names`` (in no
    # particular order; one row of nulls when it has none of them): a write's
    # first two statements in one, on SQLite only (ledger.py says why).
    lock_collection_with_members: Select[Any]
    # Log a removal of every member of ``collection_id`` not named in ``names``
    # (all of them when ``names`` is empty), oldest first; (id, member, before)
    # of each movement.
    log_members_not_named: Insert
    # Remove them.
    delete_members_not_named: Executable
    # How many there are.
    count_members_not_named: Select[Any]
    # (name, quantity) of each of them, oldest first, at most ``limit``.
    members_not_named: Select[Any]
    # (id, collection, member, quantity, reorder level) of each member at or
    # below its level, oldest first, after ``after_id``, at most ``limit``, in
    # the collections in ``only`` unless it is null.
    low_stock: Select[Any]
    # How many members are low, in the collections in ``only`` unless null.
    low_stock_count: Select[Any]
    # (id, name, JSON object of its members in creation order, the version of
    # the stock) of each collection, oldest first, after ``after_id``, at most
    # ``limit``, those in ``only`` unless it is null.
    stock_objects: Executable
    # The version of the stock of the collections in ``only`` unless it is null,
    # as the text reads.stock_version turns into a tag.
    stock_version: Executable


def json_values(parameter: str, dialect: str) -> Any:
    """The values of a JSON array parameter, as a one-column table."""
    if dialect == "postgresql":
        values = func.json_array_elements_text(cast(bindparam(parameter), JSON))
    else:
        values = func.json_each(bindparam(parameter))
    return select(values.table_valued("value").c.value)


def _only(dialect: str, alias: str) -> str:
    """``alias``.name is in the JSON array ``:only``, unless it is null."""
    if dialect == "postgresql":
        names = "SELECT json_array_elements_text(CAST(:only AS json))"
    else:
        names = "SELECT value FROM json_each(:only)"
    return f"(CAST(:only AS text) IS NULL OR {alias}.name IN ({names}))"


def _stock_version(dialect: str) -> str:
    """The version of the stock: how many collections there are, the sum of
    their versions and the sum of their ids (each mod 2^32, so no sum can
    overflow). Every write bumps its collection's version, and a collection
    made anew starts at a random one (models.new_version), so the text
    changes with every change of the stock; that it comes back to an earlier
    value is as unlikely as a collection's ETag doing so."""
    return (
        "SELECT CAST(count(*) AS text) || '.'"
        " || CAST(coalesce(sum(v.version % 4294967296), 0) AS text) || '.'"
        " || CAST(coalesce(sum(v.id % 4294967296), 0) AS text)"
        f" FROM collections AS v WHERE {_only(dialect, 'v')}"
    )


def _stock_objects(dialect: str) -> Executable:
    if dialect == "postgresql":
        # Compact, like SQLite's (json_object_agg would write '{ "a" : 1 }').
        members_object = (
            "SELECT coalesce('{' || string_agg(to_json(m.name)::text || ':' ||"
            " m.quantity, ',' ORDER BY m.id) || '}', '{}') FROM members AS m"
            " WHERE m.collection_id = c.id"
        )
    else:
        # SQLite aggregates the rows in the order the subquery gives them (an
        # ordered subquery under an aggregate is never flattened).
        members_object = (
            "SELECT json_group_object(name, quantity) FROM (SELECT name, quantity"
            " FROM members WHERE collection_id = c.id ORDER BY id)"
        )
    # The stock's version in the same statement, so of the same snapshot (an
    # uncorrelated subquery: both databases evaluate it once).
    return text(
        f"SELECT c.id, c.name, ({members_object}) AS members,"
        f" ({_stock_version(dialect)}) AS stock_version FROM collections AS c"
        f" WHERE c.id > :after_id AND {_only(dialect, 'c')}"
        " ORDER BY c.id LIMIT :limit"
    )


# A member as a write reads it (ledger.StoredMember), with its name.
_STORED_MEMBER = (
    members.c.name,
    members.c.id,
    members.c.quantity,
    members.c.version,
    members.c.reorder_level,
)


@functools.cache
def _statements_for(dialect: str) -> DialectStatements:
    insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
    named = members.c.name.in_(json_values("names", dialect))
    of_collection = members.c.collection_id == bindparam("collection_id")
    not_named = of_collection & ~named
    at = bindparam("at", type_=movements.c.at.type)
    low = (
        select()
        .select_from(
            members.join(collections, members.c.collection_id == collections.c.id)
        )
        .where(
            # models.LOW_STOCK, the partial index's own condition, so that the
            # planner takes that index.
            members.c.quantity <= members.c.reorder_level,
            or_(
                cast(bindparam("only", type_=String), String).is_(None),
                collections.c.name.in_(json_values("only", dialect)),
            ),
        )
    )
    return DialectStatements(
        insert_collection_if_absent=insert_for(collections)
        .values(name=bindparam("name"), version=bindparam("version"))
        .on_conflict_do_nothing()
        .returning(collections.c.id, collections.c.version),
        # Unordered: an ORDER BY id would tempt the planner to walk the whole
        # collection by the (collection_id, id) index instead of looking each
        # name up; the few rows are put in order in Python.
        members_named=select(*_STORED_MEMBER).where(of_collection, named),
        members_named_in_collection=select(*_STORED_MEMBER)
        .select_from(
            members.join(collections, members.c.collection_id == collections.c.id)
        )
        .where(collections.c.name == bindparam("name"), named),
        lock_collection_with_members=select(
            collections.c.id.label("collection_id"),
            collections.c.version.label("collection_version"),
            *_STORED_MEMBER,
        )
        .select_from(
            collections.outerjoin(
                members, (members.c.collection_id == collections.c.id) & named
            )
        )
        .where(collections.c.name == bindparam("name"))
        .with_for_update(of=collections),
        log_members_not_named=insert(movements)
        .from_select(
            ["collection", "member", "kind", "before", "after", "by", "at", *GROUPS],
            select(
                bindparam("collection_name"),
                members.c.name,
                bindparam("kind"),
                members.c.quantity,
                cast(null(), members.c.quantity.type),
                bindparam("by", type_=movements.c.by.type),
                at,
                *(bindparam(group, type_=movements.c[group].type) for group in GROUPS),
            )
            .where(not_named)
            .order_by(members.c.id),
        )
        .returning(movements.c.id, movements.c.member, movements.c.before),
        delete_members_not_named=delete(members).where(not_named),
        count_members_not_named=select(func.count()).where(not_named),
        members_not_named=select(members.c.name, members.c.quantity)
        .where(not_named)
        .order_by(members.c.id)
        .limit(bindparam("limit")),
        low_stock=low.add_columns(
            members.c.id,
            collections.c.name.label("collection"),
            members.c.name.label("member"),
            members.c.quantity,
            members.c.reorder_level,
        )
        .where(members.c.id > bindparam("after_id"))
        .order_by(members.c.id)
        .limit(bindparam("limit")),
        low_stock_count=low.add_columns(func.count().label("count")),
        stock_objects=_stock_objects(dialect),
        stock_version=text(_stock_version(dialect)),
    )


def for_dialect() -> DialectStatements:
    """The statements for the app's database."""
    return _statements_for(dialect_name())
