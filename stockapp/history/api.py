"""The movement log over the JSON API: a member's or a collection's history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from ..access.permissions import requires
from ..core.api_doc import (
    TIMESTAMP,
    Schema,
    limit_parameter,
    ok_response,
    operation_responses,
    ref,
)
from ..core.rules import MAX_REASON_LENGTH, check_names
from . import reads
from .models import MOVEMENT_KINDS

bp = Blueprint("history_api", __name__)


def _history(collection: str, member: str | None) -> Any:
    pages = reads.HISTORY_PAGES
    limit, before_id = pages.params(request.args)
    assert limit is not None
    movements, next_before = reads.movements_page(collection, member, limit, before_id)
    headers = {} if next_before is None else pages.next_link(limit, next_before)
    return {"movements": movements}, 200, headers


@bp.get("/stock/<collection>/history")
@requires("read")
def collection_history(collection: str) -> Any:
    """The movements of every member of a collection, newest first, paginated."""
    check_names(collection=collection)
    return _history(collection, None)


@bp.get("/stock/<collection>/<member>/history")
@requires("read")
def member_history(collection: str, member: str) -> Any:
    """The movements of one member, newest first, paginated."""
    check_names(collection=collection, member=member)
    return _history(collection, member)


# The OpenAPI document's part ---------------------------------------------------


def history_paths() -> dict[str, Schema]:
    """The operations of this module, for the OpenAPI document."""
    history_parameters = [ref("parameters", "Limit"), ref("parameters", "Cursor")]
    history = ok_response(
        "One page of movements, newest first; `Link` names the next page, if any.",
        ref("schemas", "History"),
        "Link",
    )
    return {
        "/stock/{collection}/{member}/history": {
            "parameters": [
                ref("parameters", "Collection"),
                ref("parameters", "Member"),
            ],
            "get": {
                "operationId": "memberHistory",
                "summary": "The movements of one member, newest first",
                "description": "The log outlives deleted members and collections.",
                "tags": ["inventory"],
                "parameters": history_parameters,
                "responses": operation_responses({"200": history}),
            },
        },
        "/stock/{collection}/history": {
            "parameters": [ref("parameters", "Collection")],
            "get": {
                "operationId": "collectionHistory",
                "summary": "The movements of every member of a collection",
                "tags": ["inventory"],
                "parameters": history_parameters,
                "responses": operation_responses({"200": history}),
            },
        },
    }


def history_schemas() -> dict[str, Schema]:
    """The movement log's schemas, for the OpenAPI document."""
    name = ref("schemas", "Name")
    quantity = ref("schemas", "Quantity")
    nullable_quantity = {"oneOf": [quantity, {"type": "null"}]}
    return {
        "Movement": {
            "type": "object",
            "description": "One change of one member's quantity. `before` is null"
            " when the member did not exist, `after` when it no longer does.",
            "required": [
                "id",
                "collection",
                "member",
                "kind",
                "before",
                "after",
                "reason",
                "by",
                "at",
            ],
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "collection": name,
                "member": name,
                "kind": {"enum": list(MOVEMENT_KINDS)},
                "before": nullable_quantity,
                "after": nullable_quantity,
                "reason": {"type": ["string", "null"], "maxLength": MAX_REASON_LENGTH},
                "by": {
                    "oneOf": [name, {"type": "null"}],
                    "description": "The user who made it; null for an anonymous"
                    " caller.",
                },
                "at": TIMESTAMP,
            },
            "additionalProperties": False,
        },
        "History": {
            "type": "object",
            "required": ["movements"],
            "properties": {
                "movements": {"type": "array", "items": ref("schemas", "Movement")}
            },
            "additionalProperties": False,
        },
    }


def history_parameters() -> dict[str, Schema]:
    """The page size of the movement log, for the OpenAPI document."""
    return {
        "Limit": limit_parameter(
            reads.HISTORY_PAGES, "How many movements per page, written in plain digits."
        ),
    }
