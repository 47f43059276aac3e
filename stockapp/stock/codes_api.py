"""Member codes: the JSON routes and their OpenAPI part.

A member may carry a code (codes.py says what one may be), unique in its
collection: set it, clear it, have stockapp make one, and find the members a
scanned code names. Like the reorder level, the code is part of the member:
changing it changes the member's version (its ETag), and each change is logged
as a movement of kind "code".
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import ETags

from ..access.identity import actor, current_identity
from ..access.permissions import requires
from ..core.api_doc import (
    Schema,
    documented,
    media,
    message_schema,
    ok_response,
    operation_responses,
    problem_response,
    ref,
)
from ..core.api_document import api_blueprint
from ..core.conditions import Precondition, etag, tagged
from ..core.errors import Problem, no_member, not_found
from ..core.guards import json_body
from ..core.rules import MAX_CODE_LENGTH, ValidationError, check_names
from . import reads, units
from .codes import CODE_PATTERN, code_body, code_problem

bp = api_blueprint("codes", __name__)

CODE_SET, CODE_CLEARED = "Code set", "Code cleared"
HAS_A_CODE = "Member has a code"
_CODE = ref("schemas", "Code")
_NULLABLE_CODE = {"oneOf": [_CODE, {"type": "null"}]}


@bp.get("/stock/<collection>/<member>/code")
@documented(
    "getMemberCode",
    tag="inventory",
    parameters=(ref("parameters", "IfNoneMatchRead"),),
    responses=operation_responses(
        {
            "200": ok_response(
                "The code, a JSON string, or null when it has none; `ETag` is the"
                " member's.",
                _NULLABLE_CODE,
                "ETag",
            ),
            "304": ref("responses", "NotModified"),
        },
        not_found=("Not found",),
    ),
)
@requires("read")
def get_code(collection: str, member: str) -> Any:
    """A member's code."""
    check_names(collection=collection, member=member)
    found = reads.member_code(collection, member)
    if found is None:
        raise no_member(collection, member)
    return tagged(*found)


@bp.put("/stock/<collection>/<member>/code")
@documented(
    "putMemberCode",
    tag="inventory",
    parameters=(ref("parameters", "IfMatch"),),
    body={"required": True, "content": media(_NULLABLE_CODE, example="4006381333931")},
    responses=operation_responses(
        {
            "200": ok_response(
                "Set (a string) or cleared (null); `ETag` is the member's new tag.",
                {"oneOf": [message_schema(CODE_SET), message_schema(CODE_CLEARED)]},
                "ETag",
            ),
            "409": problem_response(
                "Another member of the collection carries this code; nothing changed.",
                units.CODE_TAKEN,
            ),
        },
        not_found=(units.COLLECTION_NOT_FOUND, units.MEMBER_NOT_FOUND),
        body=True,
        conditional=True,
    ),
)
@requires("write")
def put_code(collection: str, member: str) -> Any:
    """Set or clear a member's code.

    A code is the text of a barcode: a GTIN (EAN-13, UPC-A or EAN-8, its check
    digit verified) or up to 48 printable ASCII characters without spaces or
    `/`. It is unique in the collection.
    """
    check_names(collection=collection, member=member)
    code = code_body(json_body())
    written = units.set_code(
        collection, member, code, Precondition.from_request(), by=actor()
    )
    message = CODE_CLEARED if code is None else CODE_SET
    return {"message": message}, 200, {"ETag": etag(written.version)}


@bp.post("/stock/<collection>/<member>/code")
@documented(
    "makeMemberCode",
    tag="inventory",
    responses=operation_responses(
        {
            "201": ok_response(
                "The code made and set; `ETag` is the member's new tag.",
                ref("schemas", "MadeCode"),
                "ETag",
            ),
            "409": problem_response(
                "The member has a code already (clear it first); nothing changed.",
                HAS_A_CODE,
            ),
        },
        not_found=(units.COLLECTION_NOT_FOUND, units.MEMBER_NOT_FOUND),
        conditional=True,
    ),
)
@requires("write")
def make_code(collection: str, member: str) -> Any:
    """Give a member a code of stockapp's own.

    An EAN-13 of prefix 20 (GS1 keeps 20–29 for use inside a company, so it
    names no one else's product), unique in the collection. Refused if the
    member has a code already: a printed label is never silently replaced.
    """
    check_names(collection=collection, member=member)
    found = reads.member_code(collection, member)
    if found is None:
        raise no_member(collection, member)
    if found[0] is not None:
        raise Problem(
            409,
            HAS_A_CODE,
            f'{member} carries the code "{found[0]}" already; clear it first'
            " (PUT null) to make a new one.",
        )
    # As read: if the member changes meanwhile, 412 rather than a code over
    # one just set.
    unchanged = Precondition(if_match=ETags([str(found[1])]))
    code, written = units.make_code(collection, member, unchanged, by=actor())
    return {"code": code}, 201, {"ETag": etag(written.version)}


@bp.get("/codes/<code>")
@documented(
    "findCode",
    tag="inventory",
    responses=operation_responses(
        {
            "200": ok_response(
                "The members carrying the code, oldest first: at most one a"
                " collection.",
                ref("schemas", "CodeFound"),
            )
        },
        not_found=("Not found",),
        names=False,
        extra={"400": ref("responses", "BadRequest")},
    ),
)
@requires("read")
def find_code(code: str) -> Any:
    """The members a scanned code names, in the collections the caller sees."""
    if why := code_problem(code):
        raise ValidationError({"code": why})
    only = current_identity().collections
    found = [
        {"collection": row.collection, "member": row.member, "quantity": row.quantity}
        for row in reads.members_with_code(code)
        if only is None or row.collection in only
    ]
    if not found:
        raise not_found(f'member with the code "{code}"')
    return {"code": code, "members": found}


# The OpenAPI document's part ---------------------------------------------------


def code_parameters() -> dict[str, Schema]:
    """The code in a path."""
    return {
        "CodePath": {
            "name": "code",
            "in": "path",
            "required": True,
            "description": "The code, as scanned, percent-encoded.",
            "schema": _CODE,
            "example": "4006381333931",
        }
    }


def code_schemas() -> dict[str, Schema]:
    name, quantity = ref("schemas", "Name"), ref("schemas", "Quantity")
    return {
        "Code": {
            "type": "string",
            "description": "The text of a member's barcode: a GTIN (EAN-13, UPC-A,"
            " EAN-8; its check digit verified) or other printable ASCII without"
            " spaces or `/`.",
            "minLength": 1,
            "maxLength": MAX_CODE_LENGTH,
            "pattern": CODE_PATTERN,
            "examples": ["4006381333931", "SHELF-A7"],
        },
        "MadeCode": {
            "type": "object",
            "required": ["code"],
            "properties": {"code": _CODE},
            "additionalProperties": False,
        },
        "CodeFound": {
            "type": "object",
            "required": ["code", "members"],
            "properties": {
                "code": _CODE,
                "members": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["collection", "member", "quantity"],
                        "properties": {
                            "collection": name,
                            "member": name,
                            "quantity": quantity,
                        },
                        "additionalProperties": False,
                    },
                },
            },
            "additionalProperties": False,
        },
    }
