"""The movement log's part of the API document: its schemas and page size."""

from __future__ import annotations

from ..core.api_doc import TIMESTAMP, Schema, limit_parameter, ref
from ..core.rules import MAX_REASON_LENGTH
from . import reads
from .models import MOVEMENT_KINDS


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
