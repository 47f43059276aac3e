"""The JSON API: the tutorial's routes backed by the database, plus inventory moves."""

from __future__ import annotations

import functools
import json
from contextlib import closing
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from ..access.identity import actor, current_identity
from ..access.permissions import public, requires
from ..core.api_doc import (
    JSON,
    MERGE_PATCH,
    REASON_PATTERN,
    Schema,
    created_response,
    limit_parameter,
    media,
    message_schema,
    ok_response,
    operation_responses,
    ref,
)
from ..core.conditions import Precondition, etag, is_not_modified, tagged
from ..core.errors import PROBLEM_MEDIA_TYPE, Problem, not_found
from ..core.guards import json_body
from ..core.rules import (
    MAX_QUANTITY,
    MAX_REASON_LENGTH,
    adjustment_body,
    check_names,
    quantity_body,
    stock_body,
)
from . import reads, units
from .idempotency import idempotent

bp = Blueprint("api", __name__)


def _written(
    written: units.Written,
    message: str,
    created_message: str,
    endpoint: str,
    **where: str,
) -> Any:
    """The answer to a write: 201 with the new resource's ``Location``, or 200."""
    headers = {"ETag": etag(written.version)}
    if written.created:
        headers["Location"] = url_for(endpoint, **where)
        return _message(created_message), 201, headers
    return _message(message), 200, headers


@functools.cache
def _message_json(message: str) -> str:
    return json.dumps({"message": message}, separators=(",", ":")) + "\n"


def _message(message: str) -> Response:
    """``{"message": message}``: the messages are few and fixed, so each is
    encoded once (the JSON encoder is a good part of a write's answer)."""
    return Response(_message_json(message), mimetype="application/json")


@bp.get("/stock")
@requires("read")
def list_stock() -> Any:
    """Every collection with its members and quantities; a page of collections
    with ``limit`` / ``cursor``. The whole stock is streamed as it is read."""
    pages = reads.COLLECTION_PAGES
    limit, after_id = pages.params(request.args, whole_by_default=True)
    only = current_identity().collections
    if limit is None:
        rows = reads.stock_objects(only, 0, None)
        response = Response(reads.stock_json(rows), mimetype="application/json")
        response.call_on_close(rows.close)
        return response
    with closing(reads.stock_objects(only, after_id or 0, limit + 1)) as stream:
        rows = list(stream)
    headers = {}
    if len(rows) > limit:
        rows = rows[:limit]
        headers = pages.next_link(limit, rows[-1][0])
    body = "".join(reads.stock_json(rows))
    return Response(body, mimetype="application/json", headers=headers)


@bp.get("/stock/<collection>")
@requires("read")
def get_collection(collection: str) -> Any:
    """The members of one collection with their quantities; a page of them
    with ``limit`` / ``cursor``."""
    check_names(collection=collection)
    pages = reads.MEMBER_PAGES
    limit, after_id = pages.params(request.args, whole_by_default=True)
    found = reads.collection_page(
        collection, after_id or 0, None if limit is None else limit + 1
    )
    if found is None:
        raise not_found(f'collection "{collection}"')
    members, version = found
    headers = {"ETag": etag(version)}
    if limit is not None and len(members) > limit:
        members = members[:limit]
        headers.update(pages.next_link(limit, members[-1][0]))
    if is_not_modified(version):
        return "", 304, headers
    return jsonify({name: quantity for _, name, quantity in members}), 200, headers


@bp.get("/stock/<collection>/<member>")
@requires("read")
def get_member(collection: str, member: str) -> Any:
    """The quantity of one member, as a bare JSON integer."""
    check_names(collection=collection, member=member)
    found = reads.member_quantity(collection, member)
    if found is None:
        raise not_found(f'member "{member}" in collection "{collection}"')
    quantity, version = found
    return tagged(quantity, version)


@bp.post("/stock/<collection>")
@requires("write", creates_collection=True)
@idempotent
def create_collection(collection: str) -> Any:
    """Create a collection with the members in the body; 400 if it already exists."""
    check_names(collection=collection)
    members = stock_body(json_body(), allow_null=False)
    written = units.create_collection(collection, members, by=actor())
    if written is None:
        raise Problem(
            400,
            "Collection already exists",
            f'A collection named "{collection}" already exists; nothing was changed.',
        )
    return _written(
        written,
        "Collection created",
        "Collection created",
        ".get_collection",
        collection=collection,
    )


@bp.put("/stock/<collection>")
@requires("write", creates_collection=True)
def replace_collection(collection: str) -> Any:
    """Make the collection hold exactly the body's members, creating it if needed."""
    check_names(collection=collection)
    members = stock_body(json_body(), allow_null=False)
    written = units.replace_collection(
        collection, members, Precondition.from_request(), by=actor()
    )
    return _written(
        written,
        "Collection replaced",
        "Collection created",
        ".get_collection",
        collection=collection,
    )


@bp.patch("/stock/<collection>")
@requires("write", creates_collection=True)
def update_collection(collection: str) -> Any:
    """Merge the body into the collection (RFC 7396): null removes a member."""
    check_names(collection=collection)
    changes = stock_body(json_body(), allow_null=True)
    written = units.update_collection(
        collection, changes, Precondition.from_request(), by=actor()
    )
    return _written(
        written,
        "Collection updated",
        "Collection created",
        ".get_collection",
        collection=collection,
    )


@bp.delete("/stock/<collection>")
@requires("write")
def delete_collection(collection: str) -> Any:
    """Delete the collection and all its members."""
    check_names(collection=collection)
    units.delete_collection(collection, Precondition.from_request(), by=actor())
    return "", 204


@bp.put("/stock/<collection>/<member>")
@requires("write")
def put_member(collection: str, member: str) -> Any:
    """Set one member's quantity (the body is a bare integer), creating it if needed."""
    check_names(collection=collection, member=member)
    quantity = quantity_body(json_body())
    written = units.put_member(
        collection, member, quantity, Precondition.from_request(), by=actor()
    )
    return _written(
        written,
        "Member replaced",
        "Member created",
        ".get_member",
        collection=collection,
        member=member,
    )


@bp.delete("/stock/<collection>/<member>")
@requires("write")
def delete_member(collection: str, member: str) -> Any:
    """Delete one member of a collection."""
    check_names(collection=collection, member=member)
    units.delete_member(collection, member, Precondition.from_request(), by=actor())
    return "", 204


@bp.post("/stock/<collection>/<member>/adjustments")
@requires("write")
@idempotent
def adjust_member(collection: str, member: str) -> Any:
    """Change a member's quantity by a delta, atomically; 409 if it would go below 0."""
    check_names(collection=collection, member=member)
    delta, reason = adjustment_body(json_body())
    adjusted = units.adjust_member(
        collection, member, delta, reason, Precondition.from_request(), by=actor()
    )
    return {"quantity": adjusted.quantity}, 200, {"ETag": etag(adjusted.version)}


@bp.get("/get-text")
@public
def get_text() -> Any:
    """The tutorial's fixed text."""
    return "some text", {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/qs")
@public
def query_string() -> Any:
    """Echo the query string as ``key: value`` pairs, or ``No query``."""
    pairs = [f"{key}: {value}" for key, value in request.args.items(multi=True)]
    # Plain text, so an echoed value can never run as script in a browser.
    return " ".join(pairs) or "No query", {"Content-Type": "text/plain; charset=utf-8"}


# The OpenAPI document's part ---------------------------------------------------


def _link(operation: str, **parameters: str) -> Schema:
    return {"operationId": operation, "parameters": parameters}


_COLLECTION = "$request.path.collection"
_MEMBER = "$request.path.member"


def _collection_links() -> dict[str, Schema]:
    """Links from a response about one collection to what can be done with it."""
    return {
        "GetCollection": _link("getCollection", collection=_COLLECTION),
        "ReplaceCollection": _link("replaceCollection", collection=_COLLECTION),
        "UpdateCollection": _link("updateCollection", collection=_COLLECTION),
        "DeleteCollection": _link("deleteCollection", collection=_COLLECTION),
        "PutMember": _link("putMember", collection=_COLLECTION),
        "CollectionHistory": _link("collectionHistory", collection=_COLLECTION),
    }


def _tagged_collection_links() -> dict[str, Schema]:
    """Links from a read of a collection to writes conditional on its ETag."""
    tag = {"collection": _COLLECTION, "header.If-Match": "$response.header.ETag"}
    return {
        "ReplaceCollectionIfUnchanged": _link("replaceCollection", **tag),
        "UpdateCollectionIfUnchanged": _link("updateCollection", **tag),
        "DeleteCollectionIfUnchanged": _link("deleteCollection", **tag),
        "PutMember": _link("putMember", collection=_COLLECTION),
    }


def _member_links() -> dict[str, Schema]:
    """Links from a response about one member to what can be done with it."""
    member = {"collection": _COLLECTION, "member": _MEMBER}
    return {
        "GetMember": _link("getMember", **member),
        "PutMember": _link("putMember", **member),
        "DeleteMember": _link("deleteMember", **member),
        "AdjustMember": _link("adjustMember", **member),
        "MemberHistory": _link("memberHistory", **member),
        "GetCollection": _link("getCollection", collection=_COLLECTION),
    }


def _tagged_member_links() -> dict[str, Schema]:
    """Links from a read of a member to writes conditional on its ETag."""
    tag = {
        "collection": _COLLECTION,
        "member": _MEMBER,
        "header.If-Match": "$response.header.ETag",
    }
    return {
        "PutMemberIfUnchanged": _link("putMember", **tag),
        "DeleteMemberIfUnchanged": _link("deleteMember", **tag),
        "AdjustMemberIfUnchanged": _link("adjustMember", **tag),
    }


_WRITE_PRECONDITIONS = [
    ref("parameters", "IfMatch"),
    ref("parameters", "IfNoneMatch"),
]


def _put_member(operation: str, summary: str, links: dict[str, Schema]) -> Schema:
    return {
        "operationId": operation,
        "summary": summary,
        "description": "The collection must exist.",
        "tags": ["stock"],
        "parameters": _WRITE_PRECONDITIONS,
        "requestBody": {
            "required": True,
            "content": media(ref("schemas", "Quantity"), example=12),
        },
        "responses": operation_responses(
            {
                "200": ok_response(
                    "The member's quantity was replaced.",
                    message_schema("Member replaced"),
                    "ETag",
                ),
                "201": created_response("Member created", "member", links),
            },
            not_found=("Collection not found",),
            body=True,
            conditional=True,
        ),
    }


def _delete_member(operation: str, summary: str) -> Schema:
    return {
        "operationId": operation,
        "summary": summary,
        "tags": ["stock"],
        "parameters": _WRITE_PRECONDITIONS,
        "responses": operation_responses(
            {"204": {"description": "Deleted; no body."}},
            not_found=("Collection not found", "Member not found"),
            conditional=True,
        ),
    }


def _stock_paths() -> dict[str, Schema]:
    members_body = {
        "required": True,
        "content": media(ref("schemas", "Members"), example={"apple": 30, "pear": 0}),
    }
    created_collection = created_response(
        "Collection created", "collection", _collection_links()
    )
    page_parameters = [ref("parameters", "StockLimit"), ref("parameters", "Cursor")]
    return {
        "/stock": {
            "get": {
                "operationId": "listStock",
                "summary": "Every collection with its members",
                "description": "Collections and members are listed in the order"
                " they were created. With `limit` (and then `cursor`), one page of"
                " collections at a time, each with all its members.",
                "tags": ["stock"],
                "parameters": page_parameters,
                "responses": operation_responses(
                    {
                        "200": ok_response(
                            "Each collection's members and quantities; when paged,"
                            " `Link` names the next page, if any.",
                            ref("schemas", "Stock"),
                            "Link",
                        )
                    },
                    names=False,
                    paged=True,
                ),
            }
        },
        "/stock/{collection}": {
            "parameters": [ref("parameters", "Collection")],
            "get": {
                "operationId": "getCollection",
                "summary": "One collection's members",
                "description": "With `limit` (and then `cursor`), one page of"
                " members at a time, in creation order.",
                "tags": ["stock"],
                "parameters": [ref("parameters", "IfNoneMatchRead"), *page_parameters],
                "responses": operation_responses(
                    {
                        "200": ok_response(
                            "The collection's members and quantities, in creation"
                            " order; `ETag` changes whenever any of them does; when"
                            " paged, `Link` names the next page, if any.",
                            ref("schemas", "Members"),
                            "ETag",
                            "Link",
                            links=_tagged_collection_links(),
                        ),
                        "304": ref("responses", "NotModified"),
                    },
                    not_found=("Not found",),
                ),
            },
            "post": {
                "operationId": "createCollection",
                "summary": "Create a collection",
                "description": "Refused with 400 `Collection already exists` if the"
                " name is taken; nothing is changed then.",
                "tags": ["stock"],
                "parameters": [ref("parameters", "IdempotencyKey")],
                "requestBody": members_body,
                "responses": operation_responses(
                    {
                        "201": created_response(
                            "Collection created",
                            "collection",
                            _collection_links(),
                            "Idempotent-Replayed",
                        )
                    },
                    bad_request=("Collection already exists",),
                    body=True,
                    idempotent=True,
                ),
            },
            "put": {
                "operationId": "replaceCollection",
                "summary": "Replace a collection's members, creating it if needed",
                "description": "Members not in the body are removed.",
                "tags": ["stock"],
                "parameters": _WRITE_PRECONDITIONS,
                "requestBody": members_body,
                "responses": operation_responses(
                    {
                        "200": ok_response(
                            "The collection now holds exactly the body's members.",
                            message_schema("Collection replaced"),
                            "ETag",
                        ),
                        "201": created_collection,
                    },
                    body=True,
                    conditional=True,
                ),
            },
            "patch": {
                "operationId": "updateCollection",
                "summary": "Merge changes into a collection, creating it if needed",
                "description": "A JSON merge patch (RFC 7396): each member in the"
                " body is set, and `null` removes it.",
                "tags": ["stock"],
                "parameters": _WRITE_PRECONDITIONS,
                "requestBody": {
                    "required": True,
                    "content": media(
                        ref("schemas", "MembersPatch"),
                        JSON,
                        MERGE_PATCH,
                        example={"apple": 12, "pear": None},
                    ),
                },
                "responses": operation_responses(
                    {
                        "200": ok_response(
                            "The changes were merged.",
                            message_schema("Collection updated"),
                            "ETag",
                        ),
                        "201": created_collection,
                    },
                    body=True,
                    conditional=True,
                ),
            },
            "delete": {
                "operationId": "deleteCollection",
                "summary": "Delete a collection and all its members",
                "tags": ["stock"],
                "parameters": _WRITE_PRECONDITIONS,
                "responses": operation_responses(
                    {"204": {"description": "Deleted; no body."}},
                    not_found=("Collection not found",),
                    conditional=True,
                ),
            },
        },
        "/stock/{collection}/{member}": {
            "parameters": [
                ref("parameters", "Collection"),
                ref("parameters", "Member"),
            ],
            "get": {
                "operationId": "getMember",
                "summary": "One member's quantity",
                "description": "A member named `history` is read through"
                " `GET /stock/{collection}`: this URL is then the collection's"
                " history.",
                "tags": ["stock"],
                "parameters": [ref("parameters", "IfNoneMatchRead")],
                "responses": operation_responses(
                    {
                        "200": ok_response(
                            "The quantity, as a bare JSON integer.",
                            ref("schemas", "Quantity"),
                            "ETag",
                            links=_tagged_member_links(),
                        ),
                        "304": ref("responses", "NotModified"),
                    },
                    not_found=("Not found",),
                ),
            },
            "put": _put_member(
                "putMember",
                "Set a member's quantity, creating the member if needed",
                _member_links(),
            ),
            "delete": _delete_member(
                "deleteMember", "Delete one member of a collection"
            ),
        },
    }


def _adjustment_paths() -> dict[str, Schema]:
    return {
        "/stock/{collection}/{member}/adjustments": {
            "parameters": [
                ref("parameters", "Collection"),
                ref("parameters", "Member"),
            ],
            "post": {
                "operationId": "adjustMember",
                "summary": "Change a member's quantity by a delta, atomically",
                "description": "Refused with 409 (and nothing changed) when the"
                " quantity would leave 0 to 2^63-1; the problem then carries the"
                " current `quantity`.",
                "tags": ["inventory"],
                "parameters": [
                    *_WRITE_PRECONDITIONS,
                    ref("parameters", "IdempotencyKey"),
                ],
                "requestBody": {
                    "required": True,
                    "content": media(
                        ref("schemas", "Adjustment"),
                        example={"delta": -3, "reason": "sold"},
                    ),
                },
                "responses": operation_responses(
                    {
                        "200": ok_response(
                            "The new quantity, and the member's new `ETag`.",
                            ref("schemas", "Adjusted"),
                            "ETag",
                            "Idempotent-Replayed",
                            links=_member_links(),
                        )
                    },
                    not_found=("Collection not found", "Member not found"),
                    body=True,
                    conditional=True,
                    idempotent=True,
                    extra={
                        "409": {
                            "description": "The quantity would go below 0 or above"
                            " 2^63-1; nothing was changed.",
                            "content": media(
                                ref("schemas", "RefusedAdjustment"),
                                PROBLEM_MEDIA_TYPE,
                            ),
                        }
                    },
                ),
            },
        },
    }


def _text_paths() -> dict[str, Schema]:
    return {
        "/get-text": {
            "get": {
                "operationId": "getText",
                "summary": "The tutorial's fixed text",
                "tags": ["text"],
                "responses": operation_responses(
                    {
                        "200": {
                            "description": "The text `some text`.",
                            "content": {
                                "text/plain": {"schema": {"const": "some text"}}
                            },
                        }
                    },
                    names=False,
                    database=False,
                ),
            }
        },
        "/qs": {
            "get": {
                "operationId": "echoQuery",
                "summary": "Echo the query string",
                "description": "Each pair as `key: value`, separated by spaces, or"
                " `No query` when there is none.",
                "tags": ["text"],
                "parameters": [
                    {
                        "name": "pairs",
                        "in": "query",
                        "description": "Any keys and values.",
                        "style": "form",
                        "explode": True,
                        "schema": {"type": "object"},
                        "example": {"colour": "red"},
                    }
                ],
                "responses": operation_responses(
                    {
                        "200": {
                            "description": "The pairs as text.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                    names=False,
                    database=False,
                ),
            }
        },
    }


def _history_member_paths() -> dict[str, Schema]:
    """The member named history: GET of its URL is the collection's history."""
    return {
        "/stock/{collection}/history": {
            # GET is the history; the other methods of the URL reach the member
            # route, as for any member name.
            "put": _put_member(
                "putHistoryMember",
                "Set the quantity of the member named history",
                {"GetCollection": _link("getCollection", collection=_COLLECTION)},
            ),
            "delete": _delete_member(
                "deleteHistoryMember", "Delete the member named history"
            ),
        }
    }


def stock_paths() -> dict[str, Schema]:
    """The operations of this module, for the OpenAPI document."""
    return {
        **_stock_paths(),
        **_adjustment_paths(),
        **_text_paths(),
        **_history_member_paths(),
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
                        "error": {
                            "enum": ["Insufficient stock", "Quantity limit exceeded"]
                        },
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
