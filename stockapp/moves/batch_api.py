"""The JSON API of batches: ``POST /batch`` runs several writes of the stock in
order, as one transaction, and answers each as its own route would."""

from __future__ import annotations

from typing import Any

from ..access.identity import actor
from ..access.permissions import requires
from ..core.api_doc import (
    Schema,
    documented,
    media,
    ok_response,
    operation_responses,
    ref,
)
from ..core.api_document import api_blueprint
from ..core.errors import PROBLEM_MEDIA_TYPE
from ..core.guards import json_body
from ..history.models import GROUP_ID_LENGTH
from ..stock import api as stock_api
from ..stock import ledger
from ..stock.idempotency import idempotent
from ..stock.reorder import LEVEL_CLEARED, LEVEL_SET
from . import batches

bp = api_blueprint("batch_api", __name__)

_EXAMPLE = {
    "operations": [
        {"op": "put_member", "collection": "fruit", "member": "kiwi", "body": 10},
        {
            "op": "adjust",
            "collection": "fruit",
            "member": "kiwi",
            "body": {"delta": -3, "reason": "sold"},
        },
        {"op": "delete_member", "collection": "fruit", "member": "pear"},
    ]
}


def _refused(description: str, schema: Schema, *errors: str) -> Schema:
    """A refusal of the batch: the refused operation's problem, with its index."""
    narrowed: Schema = {"properties": {"error": {"enum": list(errors)}}}
    return {
        "description": description,
        "content": media(
            {"allOf": [ref("schemas", "BatchProblem"), schema, narrowed]},
            PROBLEM_MEDIA_TYPE,
        ),
    }


def _responses() -> dict[str, Schema]:
    responses = operation_responses(
        {
            "200": ok_response(
                "Every operation ran, in order, and all were stored together:"
                " each one's answer, and the batch's id.",
                ref("schemas", "BatchResults"),
            )
        },
        names=False,
        body=True,
        conditional=True,
    )
    problem = ref("schemas", "Problem")
    responses.update(
        {
            "400": _refused(
                "The batch is malformed (`errors` names each bad key, such as"
                " `operations[3].op`), or an operation broke its route's rules;"
                " nothing was changed.",
                problem,
                "Invalid input",
                "Bad request",
            ),
            "404": _refused(
                "An operation's collection or member is not there (or its"
                " collection is outside the token's list); nothing was changed.",
                problem,
                ledger.COLLECTION_NOT_FOUND,
                ledger.MEMBER_NOT_FOUND,
                "Not found",
            ),
            "409": _refused(
                "An adjustment would take a quantity below 0 or above 2^63-1;"
                " nothing was changed.",
                ref("schemas", "RefusedAdjustment"),
                ledger.INSUFFICIENT_STOCK,
                ledger.QUANTITY_LIMIT_EXCEEDED,
            ),
            "412": _refused(
                "An operation's `if_match` does not hold; nothing was changed.",
                problem,
                "Precondition failed",
            ),
        }
    )
    return dict(sorted(responses.items()))


@bp.post("/batch")
@documented(
    "runBatch",
    tag="moves",
    body={
        "required": True,
        "content": media(ref("schemas", "Batch"), example=_EXAMPLE),
    },
    responses=_responses(),
)
@requires("write")
@idempotent
def run_batch() -> Any:
    """Run several writes as one: all of them, in order, or none.

    Each operation means what its own route means, with the same rules and
    answers: `adjust` (`POST /stock/{collection}/{member}/adjustments`),
    `put_member` and `delete_member` (`PUT` and `DELETE
    /stock/{collection}/{member}`), `put`, `patch` and `delete` (`PUT`, `PATCH`
    and `DELETE /stock/{collection}`) and `reorder_level` (`PUT
    /stock/{collection}/{member}/reorder-level`). A later operation sees what an
    earlier one did. `if_match` is the operation's `If-Match`. When one is
    refused, the answer is its problem with its `index` (from 0), and nothing is
    stored. Every movement carries the batch's id as `batch`.
    """
    operations = batches.batch_body(json_body())
    ran = batches.run(operations, by=actor())
    return {"batch": ran.id, "results": ran.results}


# The OpenAPI document's part ---------------------------------------------------

# The body each op takes (as its single route does); absent: it takes none.
_BODIES = {
    "adjust": ref("schemas", "Adjustment"),
    "put_member": ref("schemas", "Quantity"),
    "put": ref("schemas", "Members"),
    "patch": ref("schemas", "MembersPatch"),
    "reorder_level": ref("schemas", "ReorderLevel"),
}
_MESSAGES = (
    stock_api.COLLECTION_CREATED,
    stock_api.COLLECTION_REPLACED,
    stock_api.COLLECTION_UPDATED,
    stock_api.MEMBER_CREATED,
    stock_api.MEMBER_REPLACED,
    LEVEL_SET,
    LEVEL_CLEARED,
)


def _schema_name(op: str) -> str:
    return "Batch" + "".join(part.capitalize() for part in op.split("_"))


def _operation_schema(op: str, kind: batches.Kind) -> Schema:
    name = ref("schemas", "Name")
    properties: Schema = {"op": {"const": op}, "collection": name}
    if kind.member:
        properties["member"] = name
    if kind.body is not None:
        properties["body"] = _BODIES[op]
    properties["if_match"] = {
        "type": "string",
        "minLength": 1,
        "pattern": r"\S",
        "description": "The operation's `If-Match`: the `ETag` of what it writes"
        " (`*`: if that exists); 412 otherwise.",
    }
    return {
        "type": "object",
        "required": [key for key in properties if key != "if_match"],
        "properties": properties,
        "additionalProperties": False,
    }


def batch_schemas() -> dict[str, Schema]:
    """The batch's body, its answer and its refusals, for the API document."""
    names = {op: _schema_name(op) for op in batches.KINDS}
    operations = {
        names[op]: _operation_schema(op, kind) for op, kind in batches.KINDS.items()
    }
    message = {
        "type": "object",
        "required": ["message"],
        "properties": {"message": {"enum": list(_MESSAGES)}},
        "additionalProperties": False,
    }
    return {
        **operations,
        "Batch": {
            "type": "object",
            "required": ["operations"],
            "properties": {
                "operations": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": batches.MAX_BATCH_OPERATIONS,
                    "items": {
                        "oneOf": [ref("schemas", name) for name in names.values()],
                        "discriminator": {
                            "propertyName": "op",
                            "mapping": {
                                op: f"#/components/schemas/{name}"
                                for op, name in names.items()
                            },
                        },
                    },
                }
            },
            "additionalProperties": False,
        },
        "BatchResults": {
            "type": "object",
            "required": ["batch", "results"],
            "properties": {
                "batch": {
                    "type": "string",
                    "maxLength": GROUP_ID_LENGTH,
                    "description": "The batch's id: each of its movements carries"
                    " it as `batch`.",
                },
                "results": {
                    "type": "array",
                    "description": "One per operation, in order.",
                    "minItems": 1,
                    "maxItems": batches.MAX_BATCH_OPERATIONS,
                    "items": {
                        "type": "object",
                        "description": "What the operation's own route would"
                        " have answered: its status, its body, and its `ETag`"
                        " header when it sends one.",
                        "required": ["status", "body"],
                        "properties": {
                            "status": {"enum": [200, 201, 204]},
                            "body": {
                                "oneOf": [
                                    ref("schemas", "Adjusted"),
                                    message,
                                    {"type": "null"},
                                ]
                            },
                            "etag": {"type": "string"},
                        },
                        "additionalProperties": False,
                    },
                },
            },
            "additionalProperties": False,
        },
        "BatchProblem": {
            "allOf": [
                ref("schemas", "Problem"),
                {
                    "properties": {
                        "index": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": batches.MAX_BATCH_OPERATIONS - 1,
                            "description": "The refused operation, counted from"
                            " 0; absent when the batch as a whole is at fault.",
                        }
                    }
                },
            ]
        },
    }
