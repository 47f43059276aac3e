"""What the stocktake routes accept: a new stocktake, a count, a commit, and a
listing's filters, each checked whole (every broken rule named at once, 400).
"""

from __future__ import annotations

from typing import Any

from ..core.rules import (
    ValidationError,
    field_errors,
    name_problem,
    quantity_problem,
    reason_problem,
)
from .models import STOCKTAKE_STATES

# What a commit does with the members nobody counted.
UNCOUNTED_POLICIES = ("leave", "zero")

STOCKTAKE_FIELDS = ("collection", "note")
COUNT_FIELDS = ("quantity",)
COMMIT_FIELDS = ("uncounted",)
UNCOUNTED_RULE = 'must be "leave" or "zero"'
STATE_RULE = "must be one of " + ", ".join(STOCKTAKE_STATES)


def stocktake_body(body: Any) -> tuple[str, str | None]:
    """Check a new stocktake ``{"collection", "note"?}``; every broken rule is
    named at once (400)."""
    if not isinstance(body, dict):
        raise ValidationError({"body": "must be a JSON object with a collection"})
    errors = field_errors(body, STOCKTAKE_FIELDS, "a stocktake")
    collection = body.get("collection")
    if "collection" not in body:
        errors["collection"] = "is required"
    elif not isinstance(collection, str):
        errors.setdefault("collection", "must be a string")
    elif why := name_problem(collection):
        errors.setdefault("collection", why)
    note = body.get("note")
    if note is not None and (why := reason_problem(note)):
        errors.setdefault("note", why)
    if errors:
        raise ValidationError(errors)
    return collection, note


def count_body(body: Any) -> int:
    """Check a count ``{"quantity": n}`` and return n (400 otherwise)."""
    if not isinstance(body, dict):
        raise ValidationError({"body": "must be a JSON object with a quantity"})
    errors = field_errors(body, COUNT_FIELDS, "a count")
    quantity = body.get("quantity")
    if "quantity" not in body:
        errors["quantity"] = "is required"
    elif why := quantity_problem(quantity):
        errors.setdefault("quantity", why)
    if errors:
        raise ValidationError(errors)
    return quantity


def commit_body(body: Any) -> str:
    """Check a commit's body, ``{"uncounted": "leave"|"zero"}`` or ``{}``;
    return what to do with the members nobody counted."""
    if not isinstance(body, dict):
        raise ValidationError({"body": "must be a JSON object"})
    errors = field_errors(body, COMMIT_FIELDS, "a commit")
    uncounted = body.get("uncounted", "leave")
    if uncounted not in UNCOUNTED_POLICIES:
        errors.setdefault("uncounted", UNCOUNTED_RULE)
    if errors:
        raise ValidationError(errors)
    return uncounted


def list_filters(args: Any) -> tuple[str | None, str | None]:
    """The ``state`` and ``collection`` a listing is narrowed to (each None
    when not asked); 400 for a value that can match nothing."""
    errors = {}
    state = args.get("state")
    if state is not None and state not in STOCKTAKE_STATES:
        errors["state"] = STATE_RULE
    collection = args.get("collection")
    if collection is not None and (why := name_problem(collection)):
        errors["collection"] = why
    if errors:
        raise ValidationError(errors)
    return state, collection
