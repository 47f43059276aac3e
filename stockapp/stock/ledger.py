"""The stock's write path, piece by piece: locks, reading members as stored,
applying changes, and logging each as a movement.

The units of work (units.py) and the capabilities that write many changes as
one (moves/) build their transactions from these, inside
``write_transaction()``: every piece runs on its connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple

from flask import g
from sqlalchemy import Executable

from ..core import driver
from ..core.clock import utcnow
from ..core.conditions import Precondition
from ..core.database import (
    WriteRaced,
    dialect_name,
    write_connection,
    write_statements,
)
from ..core.errors import Problem
from ..core.rules import MAX_QUANTITY
from .models import new_version
from .signals import Change, Recorded, movements_recorded
from .statements import (
    ADD_TO_MEMBER,
    BUMP_COLLECTION,
    DELETE_MEMBERS,
    GROUPS,
    INSERT_CODE_MOVEMENT,
    INSERT_GROUPED_MOVEMENT,
    INSERT_GROUPED_MOVEMENT_AFTER_UPDATE,
    INSERT_LEVEL_MOVEMENT,
    INSERT_MEMBERS,
    INSERT_MOVEMENT,
    INSERT_MOVEMENT_AFTER_UPDATE,
    INSERT_MOVEMENTS,
    LOCK_COLLECTION,
    MOVEMENT_ARRAY_COLUMNS,
    SET_ONE_GROUPED_QUANTITY,
    SET_ONE_QUANTITY,
    TAKE_FROM_MEMBER,
    UPDATE_MEMBERS,
    for_dialect,
    insert_movement_arrays,
    names_parameter,
    update_and_log_arrays,
)

Stock = dict[str, int]
# The errors of the units of work, shared by their answers and the API document.
COLLECTION_NOT_FOUND = "Collection not found"
MEMBER_NOT_FOUND = "Member not found"
INSUFFICIENT_STOCK = "Insufficient stock"
QUANTITY_LIMIT_EXCEEDED = "Quantity limit exceeded"
# Where movement_group keeps (in flask.g) the group of the movements logged now.
_GROUP_KEY = "stockapp_movement_group"
_NO_GROUP: dict[str, Any] = dict.fromkeys(GROUPS)


@contextmanager
def movement_group(**group: Any) -> Iterator[None]:
    """Every movement logged in the block names ``group`` (``batch=``,
    ``transfer=`` or ``stocktake=``): the history shows what went together."""
    unknown = set(group) - set(GROUPS)
    if unknown:
        raise TypeError(f"unknown movement groups: {sorted(unknown)}")
    outer = g.get(_GROUP_KEY)
    setattr(g, _GROUP_KEY, {**_NO_GROUP, **group})
    try:
        yield
    finally:
        setattr(g, _GROUP_KEY, outer)


def current_group() -> dict[str, Any]:
    """The group of the movements logged now: each of GROUPS, None if none."""
    return g.get(_GROUP_KEY) or _NO_GROUP


class Adjusted(NamedTuple):
    quantity: int
    version: int


class LockedCollection(NamedTuple):
    id: int
    name: str
    version: int


class StoredMember(NamedTuple):
    id: int
    quantity: int
    version: int
    reorder_level: int | None


class LogEntry(NamedTuple):
    """A change to log: the member, its quantities, and what it is now."""

    member: str
    before: int | None
    after: int | None
    reorder_level: int | None = None
    version: int | None = None


def collection_not_found(name: str) -> Problem:
    return Problem(404, COLLECTION_NOT_FOUND, f'There is no collection "{name}".')


def member_not_found(collection: str, member: str) -> Problem:
    return Problem(
        404, MEMBER_NOT_FOUND, f'Collection "{collection}" has no member "{member}".'
    )


def adjust_locked(
    collection: LockedCollection,
    member: str,
    stored: StoredMember,
    delta: int,
    kind: str,
    reason: str | None,
    by: str | None,
) -> Adjusted:
    """Add ``delta`` to a member of the locked collection, as stored, and log it
    as ``kind``; 409 (raised: the transaction rolls back) if it would leave
    0..2^63-1."""
    if _fuses_writes():
        # The locked collection's member cannot change before commit (every
        # writer locks the collection first), so the range is checked here
        # and the write joins the movement's statement, as apply_changes's.
        after = stored.quantity + delta
        if not 0 <= after <= MAX_QUANTITY:
            raise refused_adjustment(collection.name, member, delta, stored.quantity)
        version = stored.version + 1
        update = {"member_id": stored.id, "new_quantity": after, "new_version": version}
        along = Along([update], collection.id, collection.version + 1)
        entry = LogEntry(member, stored.quantity, after, stored.reorder_level, version)
        record_movements(collection.name, [entry], kind, reason, by, along=along)
        return Adjusted(after, version)
    # One guarded statement: the database refuses to leave the range.
    if delta < 0:
        adjusted = execute(
            TAKE_FROM_MEMBER, member_id=stored.id, delta=delta, at_least=-delta
        ).one_or_none()
    else:
        adjusted = execute(
            ADD_TO_MEMBER,
            member_id=stored.id,
            delta=delta,
            at_most=MAX_QUANTITY - delta,
        ).one_or_none()
    if adjusted is None:
        raise refused_adjustment(collection.name, member, delta, stored.quantity)
    bump_collection(collection)
    record_movements(
        collection.name,
        [
            LogEntry(
                member,
                stored.quantity,
                adjusted.quantity,
                stored.reorder_level,
                adjusted.version,
            )
        ],
        kind,
        reason,
        by,
    )
    return Adjusted(adjusted.quantity, adjusted.version)


class Step(NamedTuple):
    """One adjustment of a run (adjust_in_turn): as adjust_member takes it."""

    member: str
    delta: int
    reason: str | None
    precondition: Precondition


class StepRefused(Exception):
    """Step ``position`` of a run was refused with ``problem``; nothing of the
    run may be kept (the transaction rolls back)."""

    def __init__(self, position: int, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.position = position
        self.problem = problem


def adjust_in_turn(
    collection_name: str, steps: list[Step], kind: str, by: str | None
) -> list[Adjusted]:
    """Apply each step to its member in turn, exactly as adjust_member would one
    after another (the same checks, answers, versions and movements), in a
    number of statements that does not grow with the steps.

    The collection is locked once, so the members read here cannot change
    before commit: each step is checked in Python against what the steps
    before it left, the members are written once each, and the movements are
    logged a few rows to a statement. The first refused step raises
    StepRefused naming it.
    """
    try:
        collection, stored = lock_existing_collection_with_members(
            collection_name, {step.member: None for step in steps}
        )
    except Problem as problem:
        raise StepRefused(0, problem) from None
    now = {name: [member.quantity, member.version] for name, member in stored.items()}
    entries, results = [], []
    for position, step in enumerate(steps):
        member = stored.get(step.member)
        if member is None:
            raise StepRefused(position, member_not_found(collection_name, step.member))
        quantity, version = now[step.member]
        try:
            step.precondition.check(version)
        except Problem as problem:
            raise StepRefused(position, problem) from None
        after = quantity + step.delta
        if not 0 <= after <= MAX_QUANTITY:
            refused = refused_adjustment(
                collection_name, step.member, step.delta, quantity
            )
            raise StepRefused(position, refused)
        now[step.member] = [after, version + 1]
        entries.append(
            LogEntry(step.member, quantity, after, member.reorder_level, version + 1)
        )
        results.append(Adjusted(after, version + 1))
    updates = [
        {"member_id": stored[name].id, "new_quantity": quantity, "new_version": version}
        for name, (quantity, version) in now.items()
    ]
    along = None
    if _fuses_writes():
        # The updates and the new version ride with the first movements.
        along = Along(updates, collection.id, collection.version + 1)
    else:
        execute_many(UPDATE_MEMBERS, updates)
        bump_collection(collection)
    for reason, segment in _segments(entries, [step.reason for step in steps]):
        record_movements(collection_name, segment, kind, reason, by, along=along)
        along = None
    return results


def _segments(
    entries: list[LogEntry], reasons: list[str | None]
) -> Iterator[tuple[str | None, list[LogEntry]]]:
    """``entries`` cut, in order, into the longest runs that share one reason
    and name each member once: what record_movements logs in one statement."""
    segment: list[LogEntry] = []
    members: set[str] = set()
    reason = reasons[0] if reasons else None
    for entry, entry_reason in zip(entries, reasons, strict=True):
        if segment and (entry_reason != reason or entry.member in members):
            yield reason, segment
            segment, members = [], set()
        reason = entry_reason
        segment.append(entry)
        members.add(entry.member)
    if segment:
        yield reason, segment


def refused_adjustment(
    collection: str, member: str, delta: int, quantity: int
) -> Problem:
    if delta < 0:
        error, limit = INSUFFICIENT_STOCK, "below 0"
    else:
        error, limit = QUANTITY_LIMIT_EXCEEDED, f"above {MAX_QUANTITY}"
    return Problem(
        409,
        error,
        f'Adjusting "{member}" in "{collection}" by {delta} would take its quantity'
        f" {quantity} {limit}; nothing was changed.",
        quantity=quantity,
    )


def execute(statement: Executable, **params: Any) -> driver.Rows:
    """Run one statement with ``params`` in the current write transaction."""
    return write_statements((statement, params))[0]


def execute_many(statement: Executable, rows: list[dict[str, Any]]) -> None:
    """Run ``statement`` once per row, as one executemany."""
    driver.execute_many(write_connection(), statement, rows)


def lock_collection(name: str) -> LockedCollection | None:
    """Collection ``name``, locked against other writers until commit, or None."""
    row = execute(LOCK_COLLECTION, name=name).one_or_none()
    return None if row is None else LockedCollection(row.id, name, row.version)


def lock_existing_collection(name: str) -> LockedCollection:
    """Collection ``name``, locked against other writers until commit, or 404."""
    collection = lock_collection(name)
    if collection is None:
        raise collection_not_found(name)
    return collection


def lock_existing_member(
    collection_name: str, member: str, precondition: Precondition
) -> tuple[LockedCollection, StoredMember]:
    """The locked collection and ``member`` as stored, or 404; 412 unless the
    member's version meets ``precondition``."""
    collection, stored_members = lock_existing_collection_with_members(
        collection_name, (member,)
    )
    stored = stored_members.get(member)
    if stored is None:
        raise member_not_found(collection_name, member)
    precondition.check(stored.version)
    return collection, stored


def lock_existing_collection_with_members(
    name: str, names: Iterable[str]
) -> tuple[LockedCollection, dict[str, StoredMember]]:
    """As lock_collection_with_members, but 404 if the collection is absent."""
    collection, stored = lock_collection_with_members(name, names)
    if collection is None:
        raise collection_not_found(name)
    return collection, stored


def lock_collection_with_members(
    name: str, names: Iterable[str]
) -> tuple[LockedCollection | None, dict[str, StoredMember]]:
    """Collection ``name`` locked as by lock_collection (None if absent), and
    its members named in ``names`` as by current_members.

    One statement on SQLite, whose write transaction holds the database's lock
    from its BEGIN, so nothing can change between the lock and the read (the
    questions asked as writes begin ride in it). Two on
    PostgreSQL: a statement that waited for the row lock rechecks the locked
    row but reads the joined members as of its start, so it would miss members
    the writer it waited for added (tests/system/test_races.py); the read must
    come after the lock. They go to the server together, with the
    transaction's BEGIN when they are its first (write_statements): one round
    trip.
    """
    if dialect_name() == "postgresql":
        # Two statements, sent together: the read is by the collection's name,
        # as its id is not known until the lock's answer comes back.
        locked, rows = write_statements(
            (LOCK_COLLECTION, {"name": name}),
            (
                for_dialect().members_named_in_collection,
                {"name": name, "names": names_parameter(names)},
            ),
            # A write of members: it announces its movements (signals.py).
            ask=True,
        )
        row = locked.one_or_none()
        if row is None:
            return None, {}
        return LockedCollection(row.id, name, row.version), _stored_members(rows)
    (rows,) = write_statements(
        (
            for_dialect().lock_collection_with_members,
            {"name": name, "names": names_parameter(names)},
        ),
        # A write of members: it announces its movements (signals.py).
        ask=True,
    )
    rows = rows.all()
    if not rows:
        return None, {}
    first = rows[0]
    collection = LockedCollection(first.collection_id, name, first.collection_version)
    return collection, _stored_members(row[2:] for row in rows if row.id is not None)


class SetAtLock(NamedTuple):
    """What lock_collection_setting_one found and did: the collection as locked
    (None: there is none), the member as it was (absent: there is none), and,
    if it wrote, the versions apply_changes would give."""

    collection: LockedCollection | None
    current: dict[str, StoredMember]
    written: tuple[int, dict[str, int]] | None


def lock_collection_setting_one(
    name: str,
    changes: Mapping[str, int | None],
    precondition: Precondition,
    kind: str,
    by: str | None,
    reason: str | None = None,
) -> SetAtLock | None:
    """On PostgreSQL, for a write that sets one member to a quantity with no
    precondition: lock collection ``name`` as lock_collection_with_members
    does and, in the same round trip, set the member and log it if it exists
    with another quantity (SET_ONE_QUANTITY), which saves the write a round
    trip and two statements. None where it does not apply: the caller locks,
    reads and writes as usual. (A precondition must be checked before the
    write it may refuse: a caller that caught the refusal inside a larger
    transaction would keep the write.)

    Anything else (no such collection or member, the same quantity) is left
    to the caller, who has what it needs: the collection as locked and the
    member as it was.
    """
    if (
        len(changes) != 1
        or not precondition.checks_nothing
        or dialect_name() != "postgresql"
    ):
        return None
    ((member, quantity),) = changes.items()
    if quantity is None:
        return None
    at, group = utcnow(), g.get(_GROUP_KEY)
    movement = {"collection": name, "member": member, "kind": kind, "reason": reason}
    locked, set_rows = write_statements(
        (LOCK_COLLECTION, {"name": name}),
        (
            SET_ONE_QUANTITY if group is None else SET_ONE_GROUPED_QUANTITY,
            {**movement, "by": by, "at": at, "quantity": quantity, **(group or {})},
        ),
        ask=True,
    )
    row, set_row = locked.one_or_none(), set_rows.one_or_none()
    if row is None:
        if set_row is not None:
            # The collection was created between the lock and the write, which
            # then ran without its lock: run the whole write again.
            raise WriteRaced
        return SetAtLock(None, {}, None)
    collection = LockedCollection(row.id, name, row.version)
    if set_row is None:
        return SetAtLock(collection, {}, None)
    stored = StoredMember(
        set_row.id, set_row.quantity, set_row.version, set_row.reorder_level
    )
    if set_row.movement_id is None:
        return SetAtLock(collection, {member: stored}, None)
    version = stored.version + 1
    change = Change(
        set_row.movement_id,
        member,
        stored.quantity,
        quantity,
        stored.reorder_level,
        version,
    )
    announce(Recorded(name, kind, reason, by, at, [change]))
    return SetAtLock(
        collection, {member: stored}, (collection.version + 1, {member: version})
    )


def lock_existing_collection_setting_one(
    name: str,
    member: str,
    quantity: int,
    precondition: Precondition,
    kind: str,
    by: str | None,
    reason: str | None,
) -> SetAtLock:
    """lock_existing_collection_with_members of ``member``, with its write
    done at the lock where lock_collection_setting_one can (``written``)."""
    early = lock_collection_setting_one(
        name, {member: quantity}, precondition, kind, by, reason
    )
    if early is None:
        return SetAtLock(*lock_existing_collection_with_members(name, (member,)), None)
    if early.collection is None:
        raise collection_not_found(name)
    return early


def lock_or_create_collection_setting_one(
    name: str,
    precondition: Precondition,
    changes: Mapping[str, int | None],
    kind: str,
    by: str | None,
) -> tuple[bool, SetAtLock]:
    """lock_or_create_collection_with_members (whether it created, and what
    it locked), with the write of ``changes`` done at the lock where
    lock_collection_setting_one can (``written``)."""
    early = lock_collection_setting_one(name, changes, precondition, kind, by)
    if early is None or early.collection is None:
        collection, created, current = lock_or_create_collection_with_members(
            name, precondition, changes
        )
        return created, SetAtLock(collection, current, None)
    return False, early


def lock_or_create_collection_with_members(
    name: str, precondition: Precondition, names: Iterable[str]
) -> tuple[LockedCollection, bool, dict[str, StoredMember]]:
    """Collection ``name``, created if absent, whether it was created, and its
    members named in ``names`` as stored (none when it was created)."""
    while True:
        collection, stored = lock_collection_with_members(name, names)
        precondition.check(None if collection is None else collection.version)
        if collection is not None:
            return collection, False, stored
        row = execute(
            for_dialect().insert_collection_if_absent,
            name=name,
            version=new_version(),
        ).one_or_none()
        if row is not None:
            return LockedCollection(row.id, name, row.version), True, {}
        # Another transaction created it between the two statements above (only
        # a database without a global write lock, PostgreSQL, lets that happen):
        # lock that one, unless yet another deleted it meanwhile.


def current_members(
    collection_id: int, names: Iterable[str]
) -> dict[str, StoredMember]:
    """Each member of the collection named in ``names``, as stored, oldest first.

    One lookup per name through the unique index: the cost follows the names,
    not the size of the collection.
    """
    rows = execute(
        for_dialect().members_named,
        collection_id=collection_id,
        names=names_parameter(names),
    ).all()
    return _stored_members(rows)


def _stored_members(rows: Iterable[Any]) -> dict[str, StoredMember]:
    """(name, id, quantity, version, reorder level) rows as current_members
    gives them: in creation order, so that a write logs its movements in the
    stock's order rather than in whatever order the query plan gives."""
    return {
        name: StoredMember(member_id, quantity, version, level)
        for name, member_id, quantity, version, level in sorted(
            rows, key=lambda row: row[1]
        )
    }


def log_members_not_named(
    collection: LockedCollection, names: Iterable[str], kind: str, by: str | None
) -> int:
    """Log the removal of every member not in ``names``; how many there are."""
    at = utcnow()
    logged = execute(
        for_dialect().log_members_not_named,
        collection_id=collection.id,
        collection_name=collection.name,
        names=names_parameter(names),
        kind=kind,
        by=by,
        at=at,
        **current_group(),
    ).all()
    if logged:
        # RETURNING's rows come in no promised order: the ids give it.
        changes = [
            Change(movement_id, member, before, None, None, None)
            for movement_id, member, before in sorted(logged)
        ]
        announce(Recorded(collection.name, kind, None, by, at, changes))
    return len(logged)


def remove_members_not_named(
    collection: LockedCollection, names: Iterable[str], kind: str, by: str | None
) -> int:
    """Log and delete every member not in ``names``; how many there were."""
    if not log_members_not_named(collection, names, kind, by):
        return 0
    return execute(
        for_dialect().delete_members_not_named,
        collection_id=collection.id,
        names=names_parameter(names),
    ).rowcount


def apply_changes(
    collection: LockedCollection,
    current: dict[str, StoredMember],
    changes: Mapping[str, int | None],
    kind: str,
    by: str | None,
    reason: str | None = None,
) -> tuple[int, dict[str, int]]:
    """Write ``changes`` (None deletes) over ``current`` and log them, each
    with ``reason``.

    Returns the collection's version and the new version of each member
    written. A handful of statements, whatever the number of members.
    """
    inserts, updates, deletes, movements = [], [], [], []
    versions: dict[str, int] = {}
    for name, quantity in changes.items():
        stored = current.get(name)
        if stored is None:
            if quantity is not None:
                versions[name] = new_version()
                inserts.append(
                    {
                        "collection_id": collection.id,
                        "name": name,
                        "quantity": quantity,
                        "version": versions[name],
                    }
                )
                movements.append(LogEntry(name, None, quantity, version=versions[name]))
        elif quantity is None:
            deletes.append({"member_id": stored.id})
            movements.append(LogEntry(name, stored.quantity, None))
        elif quantity != stored.quantity:
            versions[name] = stored.version + 1
            updates.append(
                {
                    "member_id": stored.id,
                    "new_quantity": quantity,
                    "new_version": versions[name],
                }
            )
            movements.append(
                LogEntry(
                    name,
                    stored.quantity,
                    quantity,
                    stored.reorder_level,
                    versions[name],
                )
            )
    if updates and not inserts and not deletes and _fuses_writes():
        # Only quantities change: on PostgreSQL the updates and the new
        # version ride in the movements' statement (statements.py).
        along = Along(updates, collection.id, collection.version + 1)
        record_movements(collection.name, movements, kind, reason, by, along=along)
        return along.collection_version, versions
    # Each executes as one executemany, whatever the number of rows.
    if inserts:
        execute_many(INSERT_MEMBERS, inserts)
    if updates:
        execute_many(UPDATE_MEMBERS, updates)
    if deletes:
        execute_many(DELETE_MEMBERS, deletes)
    if not movements:
        return collection.version, versions
    record_movements(collection.name, movements, kind, reason, by)
    return bump_collection(collection), versions


class Along(NamedTuple):
    """What a write's movements carry with them in one statement: the
    members' updates (UPDATE_MEMBERS rows) and the collection's new version."""

    updates: list[dict[str, Any]]
    collection_id: int
    collection_version: int

    def collection(self) -> dict[str, int]:
        """The collection's id and new version, as the statements name them."""
        return {
            "collection_id": self.collection_id,
            "collection_version": self.collection_version,
        }

    def arrays(self) -> dict[str, Any]:
        """The updates as arrays, and the collection's id and version."""
        columns = ("member_id", "new_quantity", "new_version")
        arrays = {column: [row[column] for row in self.updates] for column in columns}
        return {**arrays, **self.collection()}


def _fuses_writes() -> bool:
    """Whether the write connection takes a write's statements as one
    (PostgreSQL's data-modifying CTEs; SQLite runs each without a round trip)."""
    return write_connection().dialect.name == "postgresql"


def bump_collection(collection: LockedCollection) -> int:
    """Give the locked collection its next version (its ETag changes)."""
    version = collection.version + 1
    execute(BUMP_COLLECTION, collection_id=collection.id, new_version=version)
    return version


def record_movements(
    collection: str,
    movements: list[LogEntry],
    kind: str,
    reason: str | None = None,
    by: str | None = None,
    *,
    along: Along | None = None,
) -> None:
    """Log each movement, made by user ``by``, in one statement (with what
    ``along`` carries, on PostgreSQL), and announce them
    (signals.movements_recorded) to the capabilities above."""
    if not movements:
        return
    at = utcnow()
    rows = [
        {
            "collection": collection,
            "member": movement.member,
            "kind": kind,
            "before": movement.before,
            "after": movement.after,
            "reason": reason,
            "by": by,
            "at": at,
        }
        for movement in movements
    ]
    group = g.get(_GROUP_KEY)
    if group is not None:
        for row in rows:
            row.update(group)
    if len(rows) == 1 and along is None:
        single = INSERT_MOVEMENT if group is None else INSERT_GROUPED_MOVEMENT
        ids = [execute(single, **rows[0]).one().id]
    elif len(rows) == 1 and len(along.updates) == 1:
        single = (
            INSERT_MOVEMENT_AFTER_UPDATE
            if group is None
            else INSERT_GROUPED_MOVEMENT_AFTER_UPDATE
        )
        parameters = {**rows[0], **along.updates[0], **along.collection()}
        ids = [execute(single, **parameters).one().id]
    else:
        # One multi-row INSERT per thousand rows; each member once, so the
        # returned (id, member) pairs map back whatever their order.
        returned = dict(
            (member, movement_id)
            for movement_id, member in _insert_movements(rows, along)
        )
        ids = [returned[movement.member] for movement in movements]
    changes = [
        Change(movement_id, *movement)
        for movement_id, movement in zip(ids, movements, strict=True)
    ]
    announce(Recorded(collection, kind, reason, by, at, changes))


def record_level_change(
    collection: str,
    member: str,
    stored: StoredMember,
    level: int | None,
    version: int,
    by: str | None = None,
) -> None:
    """Log that ``member`` (as ``stored`` before the change) now has reorder
    level ``level`` (None: none) and version ``version``, and announce it."""
    details = {"level_before": stored.reorder_level, "level_after": level}
    _record_change_of(
        "level", INSERT_LEVEL_MOVEMENT, collection, member, stored, version, by, details
    )


def record_code_change(
    collection: str,
    member: str,
    stored: StoredMember,
    code_before: str | None,
    code: str | None,
    version: int,
    by: str | None = None,
) -> None:
    """Log that ``member`` (as ``stored`` before the change, its code then
    ``code_before``) now has code ``code`` (None: none) and version
    ``version``, and announce it."""
    details = {"code_before": code_before, "code_after": code}
    _record_change_of(
        "code", INSERT_CODE_MOVEMENT, collection, member, stored, version, by, details
    )


def _record_change_of(
    kind: str,
    statement: Executable,
    collection: str,
    member: str,
    stored: StoredMember,
    version: int,
    by: str | None,
    details: dict[str, Any],
) -> None:
    """Log a change of one of a member's details (its quantity untouched:
    before = after) as a movement of ``kind``, and announce it."""
    at = utcnow()
    movement_id = (
        execute(
            statement,
            collection=collection,
            member=member,
            kind=kind,
            before=stored.quantity,
            after=stored.quantity,
            reason=None,
            by=by,
            at=at,
            **details,
            **current_group(),
        )
        .one()
        .id
    )
    change = Change(
        movement_id,
        member,
        stored.quantity,
        stored.quantity,
        details.get("level_after", stored.reorder_level),
        version,
        details,
    )
    announce(Recorded(collection, kind, None, by, at, [change]))


def _insert_movements(rows: list[dict[str, Any]], along: Along | None) -> Any:
    """Log ``rows`` in one statement (with ``along``, on PostgreSQL); (id,
    member) of each, in no set order."""
    connection = write_connection()
    if connection.dialect.name != "postgresql":
        return connection.execute(INSERT_MOVEMENTS, rows)
    returned = []
    # A thousand rows a statement, as SQLAlchemy batches the VALUES form.
    for start in range(0, len(rows), 1000):
        chunk = rows[start : start + 1000]
        columns = tuple(
            column
            for column in MOVEMENT_ARRAY_COLUMNS
            if any(column in row for row in chunk)
        )
        arrays = {column: [row.get(column) for row in chunk] for column in columns}
        if along is not None and start == 0:
            statement = update_and_log_arrays(columns)
            arrays.update(along.arrays())
        else:
            statement = insert_movement_arrays(columns)
        returned += execute(statement, **arrays).all()
    return returned


def announce(recorded: Recorded) -> None:
    """Tell the receivers of movements_recorded, inside the write."""
    if movements_recorded.receivers:
        movements_recorded.send(None, recorded=recorded)
