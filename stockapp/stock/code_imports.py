"""Member codes that an import file carries (its optional ``code`` column).

A file with codes says each listed member's code (an empty cell or a null:
none), so importing it sets or clears them, each change logged as a movement of
kind "code" like any other. Codes are set after the quantities, in the import's
own transaction: all or nothing with the rest of the file.

Codes may move between members in one file (apple takes pear's and pear a new
one): the members whose code changes first let theirs go, then take the new
ones, so the unique (code, collection) index never sees two at once. A code
that stays with a member the file does not name is refused up front (409, as
``PUT .../code`` would be), in a dry run too; in replace mode no such member
outlives the import.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError

from ..core.database import dialect_name
from .ledger import (
    LockedCollection,
    StoredMember,
    execute,
    record_code_change,
)
from .statements import SET_CODE, json_values, members, names_parameter

# Each listed member's code in a file, by collection then member (None: none).
Codes = Mapping[str, str | None]


@functools.cache
def _statements(dialect: str) -> tuple[Select[Any], Select[Any]]:
    """(members named in ``names``, with their codes; members carrying one of
    ``codes``, by name), both in ``collection_id``, through its indexes."""
    of_collection = members.c.collection_id == bindparam("collection_id")
    named = select(
        members.c.name,
        members.c.id,
        members.c.quantity,
        members.c.version,
        members.c.reorder_level,
        members.c.code,
    ).where(of_collection, members.c.name.in_(json_values("names", dialect)))
    holders = select(members.c.name, members.c.code).where(
        of_collection, members.c.code.in_(json_values("codes", dialect))
    )
    return named, holders


def changed_codes(collection: LockedCollection | None, codes: Codes) -> dict[str, Any]:
    """The members of ``codes`` whose code would change: name → (stored member
    and its code, or None for a member not stored yet)."""
    if collection is None:
        return {name: None for name, code in codes.items() if code is not None}
    named, _ = _statements(dialect_name())
    stored = {
        row.name: row
        for row in execute(
            named, collection_id=collection.id, names=names_parameter(codes)
        )
    }
    return {
        name: stored.get(name)
        for name, code in codes.items()
        if (stored[name].code if name in stored else None) != code
    }


def kept_holder(
    collection: LockedCollection | None, codes: Codes, changes: Mapping[str, Any]
) -> tuple[str, str] | None:
    """(code, member) of a code the file gives one member while another, which
    the file does not name, keeps it; None if there is none."""
    wanted = sorted({codes[name] for name in changes if codes[name] is not None})
    if collection is None or not wanted:
        return None
    _, holders = _statements(dialect_name())
    for name, code in execute(
        holders, collection_id=collection.id, codes=names_parameter(wanted)
    ):
        if name not in codes:
            return code, name
    return None


class CodeClash(Exception):
    """A code the file gives a member is another's, which keeps it: the
    import is refused (and its transaction rolled back)."""

    def __init__(self, collection: str, code: str) -> None:
        super().__init__(collection, code)
        self.collection, self.code = collection, code


def write_codes(collection: LockedCollection, codes: Codes, by: str | None) -> None:
    """Give the members of ``codes`` (all stored by now) their codes, logging
    each change; CodeClash if another member carries one."""
    changes = changed_codes(collection, codes)
    before: dict[str, str | None] = {}
    versions: dict[str, int] = {}
    for name, row in changes.items():
        before[name] = row.code
        if row.code is not None:
            released = execute(SET_CODE, member_id=row.id, code=None).one()
            versions[name] = released.version
    for name, row in changes.items():
        code = codes[name]
        if code is not None:
            try:
                set_to = execute(SET_CODE, member_id=row.id, code=code).one()
            except IntegrityError:
                raise CodeClash(collection.name, code) from None
            versions[name] = set_to.version
        stored = StoredMember(row.id, row.quantity, row.version, row.reorder_level)
        record_code_change(
            collection.name, name, stored, before[name], code, versions[name], by
        )
