"""The JSON API of transfers: ``POST /transfers`` moves stock between two
members, of one collection or of two, as one transaction."""

from __future__ import annotations

from typing import Any

from ..access.identity import actor
from ..access.permissions import refuse_unseen_collection, requires
from ..core.api_doc import (
    REASON_PATTERN,
    Schema,
    documented,
    media,
    ok_response,
    operation_responses,
    ref,
)
from ..core.api_document import api_blueprint
from ..core.conditions import Precondition, etag
from ..core.errors import PROBLEM_MEDIA_TYPE
from ..core.guards import json_body
from ..core.rules import MAX_QUANTITY, MAX_REASON_LENGTH
from ..stock import ledger
from ..stock.schemas import WRITE_PRECONDITIONS
from . import transfers

bp = api_blueprint("transfer_api", __name__)


@bp.post("/transfers")
@documented(
    "createTransfer",
    tag="moves",
    parameters=WRITE_PRECONDITIONS,
    body={
        "required": True,
        "content": media(
            ref("schemas", "Transfer"),
            example={
                "from": {"collection": "warehouse", "member": "apple"},
                "to": {"collection": "shop", "member": "apple"},
                "quantity": 12,
                "reason": "restock the shop",
            },
        ),
    },
    responses=operation_responses(
        {
            "200": ok_response(
                "Both members after the transfer; `ETag` is the source member's.",
                ref("schemas", "Transferred"),
                "ETag",
            )
        },
        # "Not found": a collection a limited token may not see.
        not_found=(ledger.COLLECTION_NOT_FOUND, ledger.MEMBER_NOT_FOUND, "Not found"),
        body=True,
        names=False,
        conditional=True,
        extra={
            "409": {
                "description": "The source holds less than the quantity, or the"
                " destination would pass 2^63-1; nothing was changed.",
                "content": media(
                    ref("schemas", "RefusedAdjustment"), PROBLEM_MEDIA_TYPE
                ),
            }
        },
    ),
)
@requires("write")
def create_transfer() -> Any:
    """Move a quantity from one member to another.

    One transaction: the source is taken from (never below 0) and the
    destination added to, made if missing (its collection must exist). Both
    movements are of kind `transfer` and carry the transfer's id. `If-Match`
    applies to the source member.
    """
    asked = transfers.transfer_body(json_body())
    for end in (asked.source, asked.destination):
        # A limited token finds a collection outside its list not there.
        refuse_unseen_collection(end.collection, creates=False)
    done = transfers.transfer(asked, Precondition.from_request(), by=actor())
    body = {
        "transfer": done.id,
        "from": _end(asked.source, done.source.quantity),
        "to": {
            **_end(asked.destination, done.destination.quantity),
            "created": done.created,
        },
    }
    return body, 200, {"ETag": etag(done.source.version)}


def _end(place: transfers.Place, quantity: int) -> dict[str, Any]:
    return {
        "collection": place.collection,
        "member": place.member,
        "quantity": quantity,
    }


def transfer_schemas() -> dict[str, Schema]:
    """The transfer's body and answer, for the API document."""
    name = ref("schemas", "Name")
    quantity = ref("schemas", "Quantity")
    place = {
        "type": "object",
        "required": ["collection", "member"],
        "properties": {"collection": name, "member": name},
        "additionalProperties": False,
    }
    end = {
        "type": "object",
        "required": ["collection", "member", "quantity"],
        "properties": {"collection": name, "member": name, "quantity": quantity},
        "additionalProperties": False,
    }
    return {
        "Transfer": {
            "type": "object",
            "description": "`from` and `to` must name different members.",
            "required": ["from", "to", "quantity"],
            "properties": {
                "from": place,
                "to": place,
                "quantity": {
                    "type": "integer",
                    "format": "int64",
                    "minimum": 1,
                    "maximum": MAX_QUANTITY,
                },
                "reason": {
                    "type": ["string", "null"],
                    "description": "Kept in both movements; no control characters.",
                    "maxLength": MAX_REASON_LENGTH,
                    "pattern": REASON_PATTERN,
                },
            },
            "additionalProperties": False,
        },
        "Transferred": {
            "type": "object",
            "required": ["transfer", "from", "to"],
            "properties": {
                "transfer": {
                    "type": "string",
                    "description": "The id both movements carry as `transfer`.",
                },
                "from": end,
                "to": {
                    **end,
                    "required": [*end["required"], "created"],
                    "properties": {
                        **end["properties"],
                        "created": {
                            "type": "boolean",
                            "description": "Whether the transfer made the member.",
                        },
                    },
                },
            },
            "additionalProperties": False,
        },
    }
