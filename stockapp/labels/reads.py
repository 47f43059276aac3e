"""The members a sheet of labels prints: a whole collection, or those named.

Each read is one query through the members' (collection, name) index; a
collection's members come sorted by name, the order a clerk finds them in on
the collection page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Select, select

from ..core.errors import no_member, not_found
from ..core.extensions import db
from ..stock.models import Collection, Member
from ..stock.reads import collection_exists


class LabelledMember(NamedTuple):
    """What a member's label says."""

    name: str
    code: str | None


def _members_of(collection: str) -> Select[Any]:
    return (
        select(Member.name, Member.code)
        .join(Collection, Member.collection_id == Collection.id)
        .where(Collection.name == collection)
    )


def collection_members(collection: str, limit: int) -> list[LabelledMember]:
    """Up to ``limit`` members of ``collection`` by name; 404 if there is no
    such collection."""
    rows = db.session.execute(
        _members_of(collection).order_by(Member.name).limit(limit)
    )
    found = [LabelledMember(*row) for row in rows]
    if not found and not collection_exists(collection):
        raise not_found(f'collection "{collection}"')
    return found


def named_members(collection: str, names: Sequence[str]) -> list[LabelledMember]:
    """The members ``names`` names, in its order (a name twice: two labels);
    404 for the collection, or the first name it does not hold."""
    rows = db.session.execute(
        _members_of(collection).where(Member.name.in_(set(names)))
    )
    codes = {name: code for name, code in rows}
    for name in names:
        if name not in codes:
            if not codes and not collection_exists(collection):
                raise not_found(f'collection "{collection}"')
            raise no_member(collection, name)
    return [LabelledMember(name, codes[name]) for name in names]
