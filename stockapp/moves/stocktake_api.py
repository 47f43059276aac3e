"""The JSON API of stocktakes: open a count of one collection, record what the
clerks count, read the variances, and commit them as the stock (or cancel).

A limited token sees a stocktake only if it sees its collection; to it any
other stocktake is not there (404), like a collection it may not see.
"""

from __future__ import annotations

from typing import Any

from flask import request, url_for

from ..access.identity import actor, current_identity
from ..access.permissions import refuse_unseen_collection, requires
from ..core.api_doc import (
    REASON_PATTERN,
    TIMESTAMP,
    Schema,
    documented,
    media,
    ok_response,
    operation_responses,
    problem_response,
    ref,
)
from ..core.api_document import api_blueprint
from ..core.cursors import MAX_ID
from ..core.guards import json_body, request_body
from ..core.rules import MAX_NAME_LENGTH, MAX_QUANTITY, MAX_REASON_LENGTH, check_names
from ..stock import ledger
from ..stock.idempotency import idempotent
from ..stock.schemas import link
from . import stocktake_input, stocktake_reports, stocktakes
from .models import STOCKTAKE_STATES

bp = api_blueprint("stocktake_api", __name__)
_ONE = f"/stocktakes/<int(max={MAX_ID}):stocktake_id>"
_STOCKTAKE_ID = "$response.body#/id"
_METHOD_NOT_ALLOWED = {"405": ref("responses", "MethodNotAllowed")}
_NOT_FOUND = problem_response(
    "There is no such stocktake, or its collection is one this token may not"
    f" see (`{stocktake_reports.STOCKTAKE_NOT_FOUND}`); an id that is not a whole"
    f" number from 1 to {MAX_ID} routes nowhere (`Not found`).",
    stocktake_reports.STOCKTAKE_NOT_FOUND,
    "Not found",
)
_CLOSED = problem_response(
    "The stocktake is committed or cancelled (`Stocktake closed`, with its"
    " `state`), or its collection was deleted (`Collection deleted`); nothing"
    " was changed.",
    stocktake_reports.STOCKTAKE_CLOSED,
    stocktake_reports.COLLECTION_DELETED,
)


def _responses(
    success: dict[str, Schema],
    *,
    body: bool = False,
    not_found: Schema = _NOT_FOUND,
    conflict: bool = True,
) -> dict[str, Schema]:
    extra = {**_METHOD_NOT_ALLOWED, "404": not_found}
    if conflict:
        extra["409"] = _CLOSED
    return operation_responses(success, names=False, body=body, extra=extra)


def _report_links() -> dict[str, Schema]:
    """Links from an answer holding a stocktake to what can be done with it."""
    one = {"stocktake_id": _STOCKTAKE_ID}
    return {
        "GetStocktake": link("getStocktake", **one),
        "CountStocktakeMember": link("countStocktakeMember", **one),
        "CommitStocktake": link("commitStocktake", **one),
        "CancelStocktake": link("cancelStocktake", **one),
    }


@bp.post("/stocktakes")
@documented(
    "createStocktake",
    tag="moves",
    body={
        "required": True,
        "content": media(
            ref("schemas", "StocktakeRequest"),
            example={"collection": "fruit", "note": "end of month"},
        ),
    },
    responses=_responses(
        {
            "201": ok_response(
                "The new stocktake, open, with every member of the collection"
                " in `uncounted`; `Location` is its URL.",
                ref("schemas", "StocktakeReport"),
                "Location",
                links=_report_links(),
            )
        },
        body=True,
        not_found=problem_response(
            "There is no such collection (`Collection not found`), or this token"
            " may not see it (`Not found`, as for a collection in a URL).",
            ledger.COLLECTION_NOT_FOUND,
            "Not found",
        ),
        conflict=False,
    ),
)
@requires("write")
@idempotent
def create_stocktake() -> Any:
    """Open a stocktake of a collection.

    Clerks then count its members (`PUT /stocktakes/{id}/counts/{member}`),
    from as many devices as they like, until it is committed or cancelled.
    The stock does not change until the commit.
    """
    collection, note = stocktake_input.stocktake_body(json_body())
    refuse_unseen_collection(collection, creates=False)
    only = current_identity().collections
    new_id = stocktakes.open_stocktake(collection, note, by=actor(), only=only)
    report = stocktake_reports.stocktake_report(new_id, only)
    return report, 201, {"Location": url_for(".get_stocktake", stocktake_id=new_id)}


@bp.get("/stocktakes")
@documented(
    "listStocktakes",
    tag="moves",
    parameters=(
        {
            "name": "state",
            "in": "query",
            "description": "Only the stocktakes in this state.",
            "schema": {"enum": list(STOCKTAKE_STATES)},
        },
        {
            "name": "collection",
            "in": "query",
            "description": "Only the stocktakes of this collection.",
            "schema": ref("schemas", "Name"),
        },
    ),
    responses=operation_responses(
        {
            "200": ok_response(
                "The stocktakes of the collections this token sees, newest first.",
                ref("schemas", "StocktakeList"),
            )
        },
        names=False,
        paged=True,
        extra=_METHOD_NOT_ALLOWED,
    ),
)
@requires("read")
def list_stocktakes() -> Any:
    """Every stocktake, open or closed.

    Each without its counts; `counted` says how many members have one.
    """
    state, collection = stocktake_input.list_filters(request.args)
    found = stocktake_reports.list_stocktakes(
        current_identity().collections, state=state, collection=collection
    )
    return {"stocktakes": found}


@bp.get(_ONE)
@documented(
    "getStocktake",
    tag="moves",
    responses=_responses(
        {
            "200": ok_response(
                "The stocktake, each count with its variance, and the members"
                " nobody counted yet.",
                ref("schemas", "StocktakeReport"),
            )
        },
        conflict=False,
    ),
)
@requires("read")
def get_stocktake(stocktake_id: int) -> Any:
    """One stocktake with its counts.

    While it is open, `expected` is each member's quantity now and `after`
    what the commit would set it to: now plus the variance (counted minus
    the quantity when it was counted), so stock sold or received after the
    count is not taken for a loss. Once committed, both are what the commit
    found and set.
    """
    return stocktake_reports.stocktake_report(
        stocktake_id, current_identity().collections
    )


@bp.put(f"{_ONE}/counts/<member>")
@documented(
    "countStocktakeMember",
    tag="moves",
    body={
        "required": True,
        "content": media(
            ref("schemas", "StocktakeCountRequest"), example={"quantity": 10}
        ),
    },
    responses=_responses(
        {
            "200": ok_response(
                "The member's count, replacing its earlier one.",
                ref("schemas", "StocktakeCount"),
            ),
            "201": ok_response(
                "The member's first count.", ref("schemas", "StocktakeCount")
            ),
        },
        body=True,
        not_found=problem_response(
            "There is no such stocktake (or this token may not see it), or its"
            " collection has no such member; `Not found` also for an id out of"
            " range, or a name that is empty or holds a `/`.",
            stocktake_reports.STOCKTAKE_NOT_FOUND,
            ledger.MEMBER_NOT_FOUND,
            "Not found",
        ),
    ),
)
@requires("write")
def count_stocktake_member(stocktake_id: int, member: str) -> Any:
    """Record how many of a member are on the shelf.

    The count keeps who counted, when, and the member's quantity and version
    at that moment. Counting a member again replaces its count. Refused with
    409 once the stocktake is committed or cancelled.
    """
    check_names(member=member)
    quantity = stocktake_input.count_body(json_body())
    count, created = stocktakes.record_count(
        stocktake_id,
        member,
        quantity,
        by=actor(),
        only=current_identity().collections,
    )
    return count, 201 if created else 200


def _optional_json_body() -> Any:
    """The JSON body, or ``{}`` when there is none."""
    return json_body() if request_body() else {}


@bp.post(f"{_ONE}/commit")
@documented(
    "commitStocktake",
    tag="moves",
    body={
        "required": False,
        "content": media(
            ref("schemas", "StocktakeCommitRequest"), example={"uncounted": "zero"}
        ),
    },
    responses=_responses(
        {
            "200": ok_response(
                "The stocktake, committed: each count's `expected` and `after`"
                " are the quantities the commit found and set.",
                ref("schemas", "StocktakeReport"),
            )
        },
        body=True,
    ),
)
@requires("write")
@idempotent
def commit_stocktake(stocktake_id: int) -> Any:
    """Make the counts the stock.

    In one transaction, each counted member is set to its quantity now plus
    its variance (never below 0) as a movement of kind `stocktake`, whose
    reason names the stocktake and who counted, and whose `stocktake` is the
    stocktake's id. Members nobody counted are left alone, or set to 0 with
    `{"uncounted": "zero"}`; members deleted since their count are left
    alone. A committed stocktake cannot change again.
    """
    uncounted = stocktake_input.commit_body(_optional_json_body())
    return stocktakes.commit_stocktake(
        stocktake_id,
        uncounted=uncounted,
        by=actor(),
        only=current_identity().collections,
    )


@bp.post(f"{_ONE}/cancel")
@documented(
    "cancelStocktake",
    tag="moves",
    responses=_responses(
        {
            "200": ok_response(
                "The stocktake, cancelled; no stock was changed.",
                ref("schemas", "StocktakeReport"),
            )
        }
    ),
)
@requires("write")
def cancel_stocktake(stocktake_id: int) -> Any:
    """Cancel a stocktake without changing any stock.

    Its counts are kept, read-only, like a committed stocktake's.
    """
    return stocktakes.cancel_stocktake(
        stocktake_id, by=actor(), only=current_identity().collections
    )


# The API document's part ------------------------------------------------------


def stocktake_parameters() -> dict[str, Schema]:
    """The stocktake's id in a path."""
    return {
        "StocktakeId": {
            "name": "stocktake_id",
            "in": "path",
            "required": True,
            "description": "The stocktake's id.",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        }
    }


def stocktake_schemas() -> dict[str, Schema]:
    """The stocktakes' bodies and answers."""
    name = ref("schemas", "Name")
    quantity = ref("schemas", "Quantity")
    nullable_quantity = {"oneOf": [quantity, {"type": "null"}]}
    user = {
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH},
            {"type": "null"},
        ]
    }
    note = {
        "type": ["string", "null"],
        "description": "What the stocktake is for; no control characters.",
        "maxLength": MAX_REASON_LENGTH,
        "pattern": REASON_PATTERN,
    }
    summary = {
        "id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "collection": name,
        "note": note,
        "state": {
            "enum": list(STOCKTAKE_STATES),
            "description": "`open` while counting; `committed` and `cancelled`"
            " are read-only for good.",
        },
        "opened_by": {**user, "description": "Who opened it; null: anonymous."},
        "opened_at": TIMESTAMP,
        "closed_by": {
            **user,
            "description": "Who committed or cancelled it; null while open, or"
            " anonymous.",
        },
        "closed_at": {"oneOf": [TIMESTAMP, {"type": "null"}]},
        "counted": {
            "type": "integer",
            "minimum": 0,
            "description": "How many members have a count.",
        },
    }
    count = {
        "member": name,
        "counted": {**quantity, "description": "What the clerk counted."},
        "stored_then": {
            **quantity,
            "description": "The member's quantity when it was counted.",
        },
        "version_then": {
            "type": "integer",
            "minimum": 0,
            "description": "The member's version (its `ETag`) when it was counted.",
        },
        "expected": {
            **nullable_quantity,
            "description": "The member's quantity now (once committed: just"
            " before the commit); null if the member is gone.",
        },
        "variance": {
            "type": "integer",
            "minimum": -MAX_QUANTITY,
            "maximum": MAX_QUANTITY,
            "description": "`counted` minus `stored_then`.",
        },
        "after": {
            **nullable_quantity,
            "description": "What the commit sets (once committed: set) the"
            " member to: `expected` plus `variance`, kept within 0 to 2^63-1;"
            " null if the member is gone or the stocktake was cancelled.",
        },
        "counted_by": {**user, "description": "Who counted; null: anonymous."},
        "counted_at": TIMESTAMP,
    }
    report = {
        **summary,
        "uncounted_policy": {
            "enum": [*stocktake_input.UNCOUNTED_POLICIES, None],
            "description": "What the commit did with the members nobody"
            " counted; null unless committed.",
        },
        "counts": {
            "type": "array",
            "description": "In the members' creation order; counts of members"
            " deleted since come last, by name.",
            "items": ref("schemas", "StocktakeCount"),
        },
        "uncounted": {
            "type": "array",
            "description": "The collection's members with no count, in creation order.",
            "items": name,
        },
    }
    return {
        "StocktakeRequest": _object(
            {"collection": name, "note": note}, required=["collection"]
        ),
        "StocktakeCountRequest": _object({"quantity": quantity}),
        "StocktakeCommitRequest": _object(
            {
                "uncounted": {
                    "enum": list(stocktake_input.UNCOUNTED_POLICIES),
                    "default": "leave",
                    "description": "`zero` sets every member nobody counted to"
                    " 0; `leave` (the default) leaves them alone.",
                }
            },
            required=[],
        ),
        "Stocktake": _object(summary),
        "StocktakeList": _object(
            {"stocktakes": {"type": "array", "items": ref("schemas", "Stocktake")}}
        ),
        "StocktakeCount": _object(count),
        "StocktakeReport": _object(report),
    }


def _object(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    return {
        "type": "object",
        "required": list(properties) if required is None else required,
        "properties": properties,
        "additionalProperties": False,
    }
