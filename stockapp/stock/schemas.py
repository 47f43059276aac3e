"""The stock's part of the API document: its schemas, parameters and links.

The operations are declared at each view (api.py); what they share is here.
"""

from __future__ import annotations

from ..core.api_doc import REASON_PATTERN, Schema, limit_parameter, media, ref
from ..core.rules import MAX_QUANTITY, MAX_REASON_LENGTH
from . import reads
from .units import INSUFFICIENT_STOCK as INSUFFICIENT
from .units import QUANTITY_LIMIT_EXCEEDED as TOO_MUCH

TAGS = [
    {"name": "stock", "description": "Collections and their members."},
    {
        "name": "inventory",
        "description": "Adjustments by a delta and the movement log.",
    },
    {"name": "text", "description": "The tutorial's plain-text routes."},
]
WRITE_PRECONDITIONS = (ref("parameters", "IfMatch"), ref("parameters", "IfNoneMatch"))
PAGE_PARAMETERS = (ref("parameters", "StockLimit"), ref("parameters", "Cursor"))
MEMBERS_BODY = {
    "required": True,
    "content": media(ref("schemas", "Members"), example={"apple": 30, "pear": 0}),
}
QUANTITY_BODY = {
    "required": True,
    "content": media(ref("schemas", "Quantity"), example=12),
}


def link(operation: str, **parameters: str) -> Schema:
    return {"operationId": operation, "parameters": parameters}


COLLECTION = "$request.path.collection"
MEMBER = "$request.path.member"


def collection_links() -> dict[str, Schema]:
    """Links from a response about one collection to what can be done with it."""
    return {
        "GetCollection": link("getCollection", collection=COLLECTION),
        "ReplaceCollection": link("replaceCollection", collection=COLLECTION),
        "UpdateCollection": link("updateCollection", collection=COLLECTION),
        "DeleteCollection": link("deleteCollection", collection=COLLECTION),
        "PutMember": link("putMember", collection=COLLECTION),
        "CollectionHistory": link("collectionHistory", collection=COLLECTION),
    }


def tagged_collection_links() -> dict[str, Schema]:
    """Links from a read of a collection to writes conditional on its ETag."""
    tag = {"collection": COLLECTION, "header.If-Match": "$response.header.ETag"}
    return {
        "ReplaceCollectionIfUnchanged": link("replaceCollection", **tag),
        "UpdateCollectionIfUnchanged": link("updateCollection", **tag),
        "DeleteCollectionIfUnchanged": link("deleteCollection", **tag),
        "PutMember": link("putMember", collection=COLLECTION),
    }


def member_links() -> dict[str, Schema]:
    """Links from a response about one member to what can be done with it."""
    member = {"collection": COLLECTION, "member": MEMBER}
    return {
        "GetMember": link("getMember", **member),
        "PutMember": link("putMember", **member),
        "DeleteMember": link("deleteMember", **member),
        "AdjustMember": link("adjustMember", **member),
        "MemberHistory": link("memberHistory", **member),
        "GetCollection": link("getCollection", collection=COLLECTION),
    }


def tagged_member_links() -> dict[str, Schema]:
    """Links from a read of a member to writes conditional on its ETag."""
    tag = {
        "collection": COLLECTION,
        "member": MEMBER,
        "header.If-Match": "$response.header.ETag",
    }
    return {
        "PutMemberIfUnchanged": link("putMember", **tag),
        "DeleteMemberIfUnchanged": link("deleteMember", **tag),
        "AdjustMemberIfUnchanged": link("adjustMember", **tag),
    }


def stock_schemas() -> dict[str, Schema]:
    """The schemas of the stock's bodies, for the OpenAPI document."""
    name = ref("schemas", "Name")
    quantity = ref("schemas", "Quantity")
    nullable_quantity = {"oneOf": [quantity, {"type": "null"}]}
    return {
        "Members": {
            "type": "object",
            "description": "Member name to quantity, in creation order.",
            "propertyNames": name,
            "additionalProperties": quantity,
            "examples": [{"apple": 30, "pear": 0}],
        },
        "MembersPatch": {
            "type": "object",
            "description": "Member name to new quantity; `null` removes the member.",
            "propertyNames": name,
            "additionalProperties": nullable_quantity,
        },
        "Stock": {
            "type": "object",
            "description": "Collection name to its members, in creation order.",
            "propertyNames": name,
            "additionalProperties": ref("schemas", "Members"),
            "examples": [{"fruit": {"apple": 30, "pear": 0}, "veg": {}}],
        },
        "Adjustment": {
            "type": "object",
            "required": ["delta"],
            "properties": {
                "delta": {
                    "type": "integer",
                    "format": "int64",
                    "description": "Added to the quantity; not 0, and written as a"
                    " JSON integer like a quantity.",
                    "minimum": -MAX_QUANTITY,
                    "maximum": MAX_QUANTITY,
                    "not": {"const": 0},
                },
                "reason": {
                    "type": ["string", "null"],
                    "description": "Kept in the movement log; no control characters.",
                    "maxLength": MAX_REASON_LENGTH,
                    "pattern": REASON_PATTERN,
                },
            },
            "additionalProperties": False,
        },
        "Adjusted": {
            "type": "object",
            "required": ["quantity"],
            "properties": {"quantity": quantity},
            "additionalProperties": False,
        },
        "RefusedAdjustment": {
            "allOf": [
                ref("schemas", "Problem"),
                {
                    "required": ["quantity"],
                    "properties": {
                        "error": {"enum": [INSUFFICIENT, TOO_MUCH]},
                        "quantity": quantity,
                    },
                },
            ]
        },
    }


def stock_parameters() -> dict[str, Schema]:
    """The page size of the stock's lists, for the OpenAPI document."""
    return {
        "StockLimit": limit_parameter(
            reads.COLLECTION_PAGES,
            "How many per page, written in plain digits. Without `limit` and"
            " `cursor` the answer is the whole list, as one document.",
        ),
    }
