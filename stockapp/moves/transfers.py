"""Transfers: a quantity taken from one member and added to another, in one
transaction, as two movements of kind "transfer" that share the transfer's id.
"""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

from ..core.conditions import Precondition
from ..core.database import retry_serialization_failures, write_transaction
from ..core.rules import (
    MAX_QUANTITY,
    ValidationError,
    field_errors,
    name_problem,
    reason_problem,
)
from ..stock.ledger import (
    Adjusted,
    LockedCollection,
    adjust_locked,
    apply_changes,
    current_members,
    lock_existing_collection,
    member_not_found,
    movement_group,
)

TRANSFER_FIELDS = ("from", "to", "quantity", "reason")
PLACE_FIELDS = ("collection", "member")
TRANSFER_BODY_RULE = "must be a JSON object with from, to and quantity"
TRANSFER_QUANTITY_RULE = f"must be a JSON integer from 1 to {MAX_QUANTITY}"
SAME_PLACE = "names the same member as from: a transfer moves stock between two members"


class Place(NamedTuple):
    """A member of a collection, by name (it need not exist yet)."""

    collection: str
    member: str


class Transfer(NamedTuple):
    """A transfer as asked for."""

    source: Place
    destination: Place
    quantity: int
    reason: str | None


class Transferred(NamedTuple):
    """What a transfer left: its id, and both members after it."""

    id: str
    source: Adjusted
    destination: Adjusted
    # Whether the destination member was made by the transfer.
    created: bool


def transfer_body(body: Any) -> Transfer:
    """Check a transfer ``{"from", "to", "quantity", "reason"?}``; every broken
    rule is named at once (400)."""
    if not isinstance(body, dict):
        raise ValidationError({"body": TRANSFER_BODY_RULE})
    errors = field_errors(body, TRANSFER_FIELDS, "a transfer")
    places = {}
    for end in ("from", "to"):
        places[end] = _place(body, end, errors)
    quantity = body.get("quantity")
    if "quantity" not in body:
        errors["quantity"] = "is required"
    elif type(quantity) is not int or not 1 <= quantity <= MAX_QUANTITY:
        errors.setdefault("quantity", TRANSFER_QUANTITY_RULE)
    reason = body.get("reason")
    if reason is not None and (why := reason_problem(reason)):
        errors.setdefault("reason", why)
    if not errors and places["from"] == places["to"]:
        errors["to"] = SAME_PLACE
    if errors:
        raise ValidationError(errors)
    return Transfer(places["from"], places["to"], quantity, reason)


def _place(body: dict[str, Any], end: str, errors: dict[str, str]) -> Place | None:
    """``body[end]`` as a Place, or None with its problems added to ``errors``."""
    value = body.get(end)
    if end not in body:
        errors[end] = "is required"
        return None
    if not isinstance(value, dict):
        errors.setdefault(end, "must be a JSON object with collection and member")
        return None
    for key, why in field_errors(value, PLACE_FIELDS, f"{end}").items():
        errors.setdefault(f"{end}.{key}", why)
    names = []
    for key in PLACE_FIELDS:
        name = value.get(key)
        if key not in value:
            errors[f"{end}.{key}"] = "is required"
        elif not isinstance(name, str):
            errors.setdefault(f"{end}.{key}", "must be a string")
        elif why := name_problem(name):
            errors.setdefault(f"{end}.{key}", why)
        else:
            names.append(name)
    return Place(*names) if len(names) == 2 else None


def new_group_id() -> str:
    """A fresh id for a batch or a transfer: random, so it says nothing and
    no two hosts can give the same one."""
    return str(uuid.uuid4())


@retry_serialization_failures
def transfer(
    asked: Transfer, precondition: Precondition, *, by: str | None
) -> Transferred:
    """Take ``asked.quantity`` from the source member (404 if missing, 412 unless
    its version meets ``precondition``, 409 if it holds too little) and add it
    to the destination member, made if missing (its collection must exist).

    Both collections are locked in the order of their names, whichever way the
    stock moves, so two transfers in opposite directions cannot deadlock.
    """
    source, destination = asked.source, asked.destination
    transfer_id = new_group_id()
    with write_transaction(), movement_group(transfer=transfer_id):
        locked: dict[str, LockedCollection] = {}
        for name in sorted({source.collection, destination.collection}):
            locked[name] = lock_existing_collection(name)
        stored = current_members(locked[source.collection].id, (source.member,))
        if source.member not in stored:
            raise member_not_found(source.collection, source.member)
        precondition.check(stored[source.member].version)
        taken = adjust_locked(
            locked[source.collection],
            source.member,
            stored[source.member],
            -asked.quantity,
            "transfer",
            asked.reason,
            by,
        )
        # Read again: the source's own collection may be the destination's,
        # and its version changed with the take.
        target = lock_existing_collection(destination.collection)
        found = current_members(target.id, (destination.member,))
        if destination.member in found:
            added = adjust_locked(
                target,
                destination.member,
                found[destination.member],
                asked.quantity,
                "transfer",
                asked.reason,
                by,
            )
            return Transferred(transfer_id, taken, added, created=False)
        made = {destination.member: asked.quantity}
        _, versions = apply_changes(target, {}, made, "transfer", by, asked.reason)
        added = Adjusted(asked.quantity, versions[destination.member])
    return Transferred(transfer_id, taken, added, created=True)
