"""Batches: several writes of the stock as one, all of them or none (POST /batch).

Each operation means what its single route means: the same rules, the same
units of work, the same answers. A batch is read in two phases: every operation
is checked first (its shape, the caller's right to its collection, its names,
its body, its ``if_match``), so that a bad one refuses the batch before anything
runs; then they run in order in one transaction, each movement naming the
batch, and the first refusal rolls all of them back.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from werkzeug.http import parse_etags

from ..access.permissions import refuse_unseen_collection
from ..core.conditions import EMPTY_IF_MATCH, Precondition, etag
from ..core.database import retry_serialization_failures, write_transaction
from ..core.errors import Problem
from ..core.rules import (
    ValidationError,
    adjustment_body,
    check_names,
    field_errors,
    quantity_body,
    reorder_level_body,
    stock_body,
)
from ..stock import units
from ..stock.api import (
    COLLECTION_CREATED,
    COLLECTION_REPLACED,
    COLLECTION_UPDATED,
    MEMBER_CREATED,
    MEMBER_REPLACED,
)
from ..stock.ledger import Step, StepRefused, adjust_in_turn, movement_group
from ..stock.reorder import LEVEL_CLEARED, LEVEL_SET
from .transfers import new_group_id

MAX_BATCH_OPERATIONS = 1000
BATCH_FIELDS = ("operations",)
OPERATION_FIELDS = ("op", "collection", "member", "body", "if_match")
BATCH_BODY_RULE = "must be a JSON object with operations"
OPERATIONS_RULE = "must be a JSON array of operations"
OPERATIONS_COUNT_RULE = f"must hold 1 to {MAX_BATCH_OPERATIONS} operations"
OPERATION_RULE = "must be a JSON object with op and collection"
NAME_RULE = "must be a string"
IF_MATCH_RULE = "must be a string: the ETag you read, or *"


class Operation(NamedTuple):
    """An operation as checked: ready to run."""

    op: str
    collection: str
    member: str | None
    # What its body rule returned (None for an op that takes no body).
    value: Any
    precondition: Precondition


class Outcome(NamedTuple):
    """What its single route would have answered: status, body, ETag's version."""

    status: int
    body: Any
    version: int | None = None


class Kind(NamedTuple):
    """What an operation's ``op`` stands for: its single route's parts."""

    # Runs it as its single route does, and answers as that route would.
    run: Callable[[Operation, str | None], Outcome]
    # Whether it names a member (the route's URL has one).
    member: bool
    # The single route's body rule; None: it takes no body.
    body: Callable[[Any], Any] | None
    # Whether it may create its collection (a limited token is then refused
    # 403 for a collection outside its list, rather than 404).
    creates: bool


class Ran(NamedTuple):
    """A batch that ran: its id (its movements carry it) and each answer."""

    id: str
    results: list[dict[str, Any]]


@contextmanager
def at_index(index: int) -> Iterator[None]:
    """Whatever operation ``index`` is refused with, refuse it naming ``index``."""
    try:
        yield
    except ValidationError as error:
        raise ValidationError(error.errors, **error.extra, index=index) from None
    except Problem as problem:
        raise Problem(
            problem.status,
            problem.error,
            problem.detail,
            problem.headers,
            **problem.extra,
            index=index,
        ) from None


def batch_body(body: Any) -> list[Operation]:
    """Check a batch ``{"operations": [...]}`` and every operation in it: the
    first one refused answers for the batch, with its ``index``."""
    if not isinstance(body, dict):
        raise ValidationError({"body": BATCH_BODY_RULE})
    errors = field_errors(body, BATCH_FIELDS, "a batch")
    operations = body.get("operations")
    if "operations" not in body:
        errors["operations"] = "is required"
    elif not isinstance(operations, list):
        errors.setdefault("operations", OPERATIONS_RULE)
    elif not 1 <= len(operations) <= MAX_BATCH_OPERATIONS:
        errors.setdefault(
            "operations", f"{OPERATIONS_COUNT_RULE} (it holds {len(operations):,})"
        )
    if errors:
        raise ValidationError(errors)
    checked = []
    for index, operation in enumerate(operations):
        with at_index(index):
            checked.append(_operation(index, operation))
    return checked


def _operation(index: int, given: Any) -> Operation:
    """One operation, checked as its single route checks its request: who may
    reach the collection, then the names, the body and ``if_match``."""
    where = f"operations[{index}]"
    if not isinstance(given, dict):
        raise ValidationError({where: OPERATION_RULE})
    op, kind = _shape(given, where)
    collection = given["collection"]
    member = given.get("member")
    refuse_unseen_collection(collection, creates=kind.creates)
    names = {"collection": collection}
    if member is not None:
        names["member"] = member
    check_names(**names)
    value = None if kind.body is None else kind.body(given["body"])
    return Operation(op, collection, member, value, _precondition(given))


def _shape(given: dict[str, Any], where: str) -> tuple[str, Kind]:
    """The op and its kind, once the operation names what its kind needs and
    nothing else; every fault of its shape at once (400)."""
    errors = {
        f"{where}.{key}": why
        for key, why in field_errors(given, OPERATION_FIELDS, "an operation").items()
    }
    op = given.get("op")
    kind = KINDS.get(op) if isinstance(op, str) else None
    if "op" not in given:
        errors[f"{where}.op"] = "is required"
    elif kind is None:
        errors.setdefault(f"{where}.op", UNKNOWN_OP)
    for key in ("collection", "member"):
        if key in given and not isinstance(given[key], str):
            errors.setdefault(f"{where}.{key}", NAME_RULE)
    if "collection" not in given:
        errors[f"{where}.collection"] = "is required"
    if kind is not None:
        for key, takes in (("member", kind.member), ("body", kind.body is not None)):
            if takes and key not in given:
                errors[f"{where}.{key}"] = f"is required by {op}"
            elif not takes and key in given:
                errors.setdefault(f"{where}.{key}", f"is not taken by {op}")
    if_match = given.get("if_match")
    if "if_match" in given and not isinstance(if_match, str):
        errors.setdefault(f"{where}.if_match", IF_MATCH_RULE)
    if errors:
        raise ValidationError(errors)
    assert kind is not None
    return op, kind


def _precondition(given: dict[str, Any]) -> Precondition:
    """The operation's ``if_match``, read as its route reads an If-Match header
    (and refused alike when empty)."""
    if "if_match" not in given:
        return Precondition()
    if not given["if_match"].strip():
        raise ValidationError({"If-Match": EMPTY_IF_MATCH})
    return Precondition(if_match=parse_etags(given["if_match"]))


@retry_serialization_failures
def run(operations: list[Operation], *, by: str | None) -> Ran:
    """Run ``operations`` in order as one transaction, each movement naming the
    batch; the first refused raises its problem with its ``index``, and
    nothing is stored."""
    batch = new_group_id()
    outcomes: list[Outcome] = []
    with write_transaction(), movement_group(batch=batch):
        for first, run_of in _runs(operations):
            if len(run_of) > 1:
                outcomes += _adjust_in_turn(first, run_of, by)
                continue
            with at_index(first):
                outcomes.append(KINDS[run_of[0].op].run(run_of[0], by))
    results = []
    for outcome in outcomes:
        result = {"status": outcome.status, "body": outcome.body}
        if outcome.version is not None:
            result["etag"] = etag(outcome.version)
        results.append(result)
    return Ran(batch, results)


def _runs(operations: list[Operation]) -> Iterator[tuple[int, list[Operation]]]:
    """The operations cut into runs, each with the index of its first: the
    adjustments of one collection that follow one another make one run, any
    other operation a run of its own."""
    start = 0
    while start < len(operations):
        end = start + 1
        if operations[start].op == "adjust":
            while (
                end < len(operations)
                and operations[end].op == "adjust"
                and operations[end].collection == operations[start].collection
            ):
                end += 1
        yield start, operations[start:end]
        start = end


def _adjust_in_turn(
    first: int, run_of: list[Operation], by: str | None
) -> list[Outcome]:
    """Adjustments of one collection in a row, as adjust_member would apply
    them one by one, in a few statements whatever their number (the
    collection is locked once for all of them)."""
    steps = [
        Step(operation.member, *operation.value, operation.precondition)
        for operation in run_of
    ]
    try:
        adjusted = adjust_in_turn(run_of[0].collection, steps, "adjust", by)
    except StepRefused as refused:
        with at_index(first + refused.position):
            raise refused.problem from None
    return [
        Outcome(200, {"quantity": done.quantity}, done.version) for done in adjusted
    ]


# Each op as its single route runs it, answered as that route answers ------------


def _written(written: units.Written, message: str, created_message: str) -> Outcome:
    if written.created:
        return Outcome(201, {"message": created_message}, written.version)
    return Outcome(200, {"message": message}, written.version)


def _adjust(operation: Operation, by: str | None) -> Outcome:
    delta, reason = operation.value
    adjusted = units.adjust_member(
        operation.collection,
        operation.member,
        delta,
        reason,
        operation.precondition,
        by=by,
    )
    return Outcome(200, {"quantity": adjusted.quantity}, adjusted.version)


def _put_member(operation: Operation, by: str | None) -> Outcome:
    written = units.put_member(
        operation.collection,
        operation.member,
        operation.value,
        operation.precondition,
        by=by,
    )
    return _written(written, MEMBER_REPLACED, MEMBER_CREATED)


def _delete_member(operation: Operation, by: str | None) -> Outcome:
    units.delete_member(
        operation.collection, operation.member, operation.precondition, by=by
    )
    return Outcome(204, None)


def _put(operation: Operation, by: str | None) -> Outcome:
    written = units.replace_collection(
        operation.collection, operation.value, operation.precondition, by=by
    )
    return _written(written, COLLECTION_REPLACED, COLLECTION_CREATED)


def _patch(operation: Operation, by: str | None) -> Outcome:
    written = units.update_collection(
        operation.collection, operation.value, operation.precondition, by=by
    )
    return _written(written, COLLECTION_UPDATED, COLLECTION_CREATED)


def _delete(operation: Operation, by: str | None) -> Outcome:
    units.delete_collection(operation.collection, operation.precondition, by=by)
    return Outcome(204, None)


def _reorder_level(operation: Operation, by: str | None) -> Outcome:
    written = units.set_reorder_level(
        operation.collection,
        operation.member,
        operation.value,
        operation.precondition,
        by=by,
    )
    message = LEVEL_CLEARED if operation.value is None else LEVEL_SET
    return Outcome(200, {"message": message}, written.version)


# Each op and its single route, in the order the document lists them.
KINDS = {
    # POST /stock/<c>/<m>/adjustments
    "adjust": Kind(_adjust, member=True, body=adjustment_body, creates=False),
    # PUT /stock/<c>/<m>
    "put_member": Kind(_put_member, member=True, body=quantity_body, creates=False),
    # DELETE /stock/<c>/<m>
    "delete_member": Kind(_delete_member, member=True, body=None, creates=False),
    # PUT /stock/<c>
    "put": Kind(
        _put,
        member=False,
        body=functools.partial(stock_body, allow_null=False),
        creates=True,
    ),
    # PATCH /stock/<c>
    "patch": Kind(
        _patch,
        member=False,
        body=functools.partial(stock_body, allow_null=True),
        creates=True,
    ),
    # DELETE /stock/<c>
    "delete": Kind(_delete, member=False, body=None, creates=False),
    # PUT /stock/<c>/<m>/reorder-level
    "reorder_level": Kind(
        _reorder_level, member=True, body=reorder_level_body, creates=False
    ),
}
UNKNOWN_OP = f"must be one of {', '.join(KINDS)}"
