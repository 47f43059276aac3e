"""The movement log's part of the API document: its schemas and page size."""

from __future__ import annotations

from ..core.api_doc import TIMESTAMP, Schema, limit_parameter, ref
from ..core.rules import MAX_REASON_LENGTH
from . import reads
from .models import GROUP_ID_LENGTH, MOVEMENT_KINDS

# What a "level" or "code" movement changed, before and after (absent for
# every other kind): in the history and in a webhook's movement data.
_NULLABLE_LEVEL: Schema = {"oneOf": [ref("schemas", "Quantity"), {"type": "null"}]}
_NULLABLE_CODE: Schema = {"oneOf": [ref("schemas", "Code"), {"type": "null"}]}
DETAIL_CHANGES: dict[str, Schema] = {
    "level_before": {
        **_NULLABLE_LEVEL,
        "description": "A `level` movement's reorder level before it (null:"
        " none); absent for every other kind.",
    },
    "level_after": {
        **_NULLABLE_LEVEL,
        "description": "A `level` movement's reorder level after it (null:"
        " cleared); absent for every other kind.",
    },
    "code_before": {
        **_NULLABLE_CODE,
        "description": "A `code` movement's code before it (null: none);"
        " absent for every other kind.",
    },
    "code_after": {
        **_NULLABLE_CODE,
        "description": "A `code` movement's code after it (null: cleared);"
        " absent for every other kind.",
    },
}


def history_schemas() -> dict[str, Schema]:
    """The movement log's schemas, for the OpenAPI document."""
    name = ref("schemas", "Name")
    quantity = ref("schemas", "Quantity")
    nullable_quantity = {"oneOf": [quantity, {"type": "null"}]}
    group_id = {"type": "string", "maxLength": GROUP_ID_LENGTH}
    return {
        "Movement": {
            "type": "object",
            "description": "One change of one member's quantity or, of kind"
            " `level` or `code`, of its reorder level or code (`before` ="
            " `after`, the quantity then). `before` is null when the member"
            " did not exist, `after` when it no longer does; `batch`,"
            " `transfer` or `stocktake` names what it went with.",
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
                "batch": {
                    **group_id,
                    "description": "The batch (`POST /batch`) it was part of;"
                    " absent when none.",
                },
                "transfer": {
                    **group_id,
                    "description": "The transfer (`POST /transfers`) whose two"
                    " movements share this id; absent when none.",
                },
                "stocktake": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "The stocktake whose commit applied it;"
                    " absent when none.",
                },
                **DETAIL_CHANGES,
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
