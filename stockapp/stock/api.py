"""The JSON API of the stock: the tutorial's routes backed by the database, and
adjustments. Each view declares its operation in the API document beside it."""

from __future__ import annotations

import functools
import json
from contextlib import closing
from typing import Any

from flask import Response, jsonify, request, url_for

from ..access.identity import actor, current_identity
from ..access.permissions import public, requires
from ..core.api_doc import (
    JSON,
    MERGE_PATCH,
    Schema,
    created_response,
    documented,
    media,
    message_schema,
    ok_response,
    operation_responses,
    ref,
)
from ..core.api_document import api_blueprint
from ..core.conditions import Precondition, etag, is_not_modified, tagged
from ..core.errors import PROBLEM_MEDIA_TYPE, Problem, no_member, not_found
from ..core.guards import json_body
from ..core.rules import (
    adjustment_body,
    check_names,
    quantity_body,
    stock_body,
)
from . import reads, units
from .idempotency import idempotent
from .schemas import (
    COLLECTION,
    MEMBERS_BODY,
    PAGE_PARAMETERS,
    QUANTITY_BODY,
    WRITE_PRECONDITIONS,
    collection_links,
    link,
    member_links,
    tagged_collection_links,
    tagged_member_links,
)
from .stock_cache import stock_cache

bp = api_blueprint("api", __name__)

# The success messages, shared by the answers and the document.
COLLECTION_CREATED = "Collection created"
COLLECTION_REPLACED = "Collection replaced"
COLLECTION_UPDATED = "Collection updated"
MEMBER_CREATED = "Member created"
MEMBER_REPLACED = "Member replaced"
COLLECTION_EXISTS = "Collection already exists"
NO_QUERY = "No query"
SOME_TEXT = "some text"
_TEXT = {"Content-Type": "text/plain; charset=utf-8"}
_DELETED = {"204": {"description": "Deleted; no body."}}


def _write_answers(
    description: str,
    message: str,
    created: Schema | None = None,
    not_found: tuple[str, ...] = (),
) -> dict[str, Schema]:
    """The answers of a conditional write that creates what is missing: 200 with
    ``message``, or 201 (a collection, unless ``created`` says otherwise)."""
    return operation_responses(
        {
            "200": ok_response(description, message_schema(message), "ETag"),
            "201": created
            or created_response(COLLECTION_CREATED, "collection", collection_links()),
        },
        not_found=not_found,
        body=True,
        conditional=True,
    )


def _member_named_history(operation_id: str, summary: str) -> Any:
    """The member route's operation as it appears at /stock/{collection}/history
    or /series, whose GET is the collection's history or series (its other
    methods reach the member)."""

    def amend(operation: Schema) -> None:
        operation.update(operationId=operation_id, summary=summary)
        created = operation["responses"].get("201")
        if created is not None:
            created["links"] = {
                "GetCollection": link("getCollection", collection=COLLECTION)
            }

    return amend


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
def message_json(message: str) -> str:
    return json.dumps({"message": message}, separators=(",", ":")) + "\n"


def _message(message: str) -> Response:
    """``{"message": message}``: the messages are few and fixed, so each is
    encoded once (the JSON encoder is a good part of a write's answer)."""
    return Response(message_json(message), mimetype="application/json")


@bp.get("/stock")
@documented(
    "listStock",
    tag="stock",
    parameters=(ref("parameters", "IfNoneMatchRead"), *PAGE_PARAMETERS),
    responses=operation_responses(
        {
            "200": ok_response(
                "Each collection's members and quantities. `ETag` is the"
                " version of the stock this caller sees, which changes whenever"
                " any of it does (a page carries it too); when paged, `Link`"
                " names the next page, if any.",
                ref("schemas", "Stock"),
                "ETag",
                "Link",
            ),
            "304": ref("responses", "NotModified"),
        },
        names=False,
        paged=True,
    ),
)
@requires("read")
def list_stock() -> Any:
    """Every collection with its members.

    Collections and members are listed in the order they were created. With
    `limit` (and then `cursor`), one page of collections at a time, each with
    all its members. The whole stock is served from a cache until it changes;
    `If-None-Match` with its `ETag` answers 304 without reading it.
    """
    pages = reads.COLLECTION_PAGES
    limit, after_id = pages.params(request.args, whole_by_default=True)
    only = current_identity().collections
    if limit is None:
        return _whole_stock(only)
    with closing(reads.stock_objects(only, after_id or 0, limit + 1)) as stream:
        rows = list(stream)
    # A page carries the whole stock's tag, as a page of members carries its
    # collection's: from the page's own statement (past the end, asked apart).
    version = (
        reads.stock_tag(rows[0].stock_version, only)
        if rows
        else reads.stock_version(only)
    )
    headers = {"ETag": etag(version)}
    if len(rows) > limit:
        rows = rows[:limit]
        headers.update(pages.next_link(limit, rows[-1][0]))
    if is_not_modified(version):
        return "", 304, headers
    body = "".join(reads.stock_json(rows))
    return Response(body, mimetype="application/json", headers=headers)


def _whole_stock(only: frozenset[str] | None) -> Any:
    """The whole stock the caller sees: 304 if the client has its version,
    else from this process's cache, else streamed as it is read (and kept)."""
    cache = stock_cache()
    if cache.capacity or "HTTP_IF_NONE_MATCH" in request.environ:
        version = reads.stock_version(only)
        headers = {"ETag": etag(version)}
        if is_not_modified(version):
            return "", 304, headers
        document = cache.get((version, only))
        if document is not None:
            return Response(document, mimetype="application/json", headers=headers)
    # The document's own tag, of the snapshot it is read from (a write may have
    # landed since the question above).
    version, pieces, stream = reads.whole_stock(only)
    response = Response(
        cache.remembering((version, only), pieces),
        mimetype="application/json",
        headers={"ETag": etag(version)},
    )
    response.call_on_close(stream.close)
    return response


@bp.get("/stock/<collection>")
@documented(
    "getCollection",
    tag="stock",
    parameters=(ref("parameters", "IfNoneMatchRead"), *PAGE_PARAMETERS),
    responses=operation_responses(
        {
            "200": ok_response(
                "The collection's members and quantities, in creation order;"
                " `ETag` changes whenever any of them does; when paged, `Link`"
                " names the next page, if any.",
                ref("schemas", "Members"),
                "ETag",
                "Link",
                links=tagged_collection_links(),
            ),
            "304": ref("responses", "NotModified"),
        },
        not_found=("Not found",),
    ),
)
@requires("read")
def get_collection(collection: str) -> Any:
    """One collection's members.

    With `limit` (and then `cursor`), one page of members at a time, in
    creation order.
    """
    check_names(collection=collection)
    pages = reads.MEMBER_PAGES
    limit, after_id = pages.params(request.args, whole_by_default=True)
    if limit is None and "HTTP_IF_NONE_MATCH" in request.environ:
        # A client that has the collection: its members are read only if it
        # changed. (A page's 304 keeps its Link: it is answered below.)
        version = reads.collection_version(collection)
        if version is not None and is_not_modified(version):
            return "", 304, {"ETag": etag(version)}
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
@documented(
    "getMember",
    tag="stock",
    parameters=(ref("parameters", "IfNoneMatchRead"),),
    responses=operation_responses(
        {
            "200": ok_response(
                "The quantity, as a bare JSON integer.",
                ref("schemas", "Quantity"),
                "ETag",
                links=tagged_member_links(),
            ),
            "304": ref("responses", "NotModified"),
        },
        not_found=("Not found",),
    ),
)
@requires("read")
def get_member(collection: str, member: str) -> Any:
    """One member's quantity.

    A member named `history` is read through `GET /stock/{collection}`: this
    URL is then the collection's history.
    """
    check_names(collection=collection, member=member)
    found = reads.member_quantity(collection, member)
    if found is None:
        raise no_member(collection, member)
    quantity, version = found
    return tagged(quantity, version)


@bp.post("/stock/<collection>")
@documented(
    "createCollection",
    tag="stock",
    body=MEMBERS_BODY,
    responses=operation_responses(
        {"201": created_response(COLLECTION_CREATED, "collection", collection_links())},
        bad_request=(COLLECTION_EXISTS,),
        body=True,
    ),
)
@requires("write", creates_collection=True)
@idempotent
def create_collection(collection: str) -> Any:
    """Create a collection.

    Refused with 400 `Collection already exists` if the name is taken; nothing
    is changed then.
    """
    check_names(collection=collection)
    members = stock_body(json_body(), allow_null=False)
    written = units.create_collection(collection, members, by=actor())
    if written is None:
        raise Problem(
            400,
            COLLECTION_EXISTS,
            f'A collection named "{collection}" already exists; nothing was changed.',
        )
    return _written(
        written,
        COLLECTION_CREATED,
        COLLECTION_CREATED,
        ".get_collection",
        collection=collection,
    )


@bp.put("/stock/<collection>")
@documented(
    "replaceCollection",
    tag="stock",
    parameters=WRITE_PRECONDITIONS,
    body=MEMBERS_BODY,
    responses=_write_answers(
        "The collection now holds exactly the body's members.", COLLECTION_REPLACED
    ),
)
@requires("write", creates_collection=True)
def replace_collection(collection: str) -> Any:
    """Replace a collection's members, creating it if needed.

    Members not in the body are removed.
    """
    check_names(collection=collection)
    members = stock_body(json_body(), allow_null=False)
    written = units.replace_collection(
        collection, members, Precondition.from_request(), by=actor()
    )
    return _written(
        written,
        COLLECTION_REPLACED,
        COLLECTION_CREATED,
        ".get_collection",
        collection=collection,
    )


@bp.patch("/stock/<collection>")
@documented(
    "updateCollection",
    tag="stock",
    parameters=WRITE_PRECONDITIONS,
    body={
        "required": True,
        "content": media(
            ref("schemas", "MembersPatch"),
            JSON,
            MERGE_PATCH,
            example={"apple": 12, "pear": None},
        ),
    },
    responses=_write_answers("The changes were merged.", COLLECTION_UPDATED),
)
@requires("write", creates_collection=True)
def update_collection(collection: str) -> Any:
    """Merge changes into a collection, creating it if needed.

    A JSON merge patch (RFC 7396): each member in the body is set, and `null`
    removes it.
    """
    check_names(collection=collection)
    changes = stock_body(json_body(), allow_null=True)
    written = units.update_collection(
        collection, changes, Precondition.from_request(), by=actor()
    )
    return _written(
        written,
        COLLECTION_UPDATED,
        COLLECTION_CREATED,
        ".get_collection",
        collection=collection,
    )


@bp.delete("/stock/<collection>")
@documented(
    "deleteCollection",
    tag="stock",
    parameters=WRITE_PRECONDITIONS,
    responses=operation_responses(
        _DELETED, not_found=(units.COLLECTION_NOT_FOUND,), conditional=True
    ),
)
@requires("write")
def delete_collection(collection: str) -> Any:
    """Delete a collection and all its members."""
    check_names(collection=collection)
    units.delete_collection(collection, Precondition.from_request(), by=actor())
    return "", 204


@bp.put("/stock/<collection>/<member>")
@documented(
    "putMember",
    tag="stock",
    parameters=WRITE_PRECONDITIONS,
    body=QUANTITY_BODY,
    responses=_write_answers(
        "The member's quantity was replaced.",
        MEMBER_REPLACED,
        created=created_response(MEMBER_CREATED, "member", member_links()),
        not_found=(units.COLLECTION_NOT_FOUND,),
    ),
    also={
        "/stock/{collection}/history": _member_named_history(
            "putHistoryMember", "Set the quantity of the member named history"
        ),
        "/stock/{collection}/series": _member_named_history(
            "putSeriesMember", "Set the quantity of the member named series"
        ),
    },
)
@requires("write")
def put_member(collection: str, member: str) -> Any:
    """Set a member's quantity, creating the member if needed.

    The collection must exist.
    """
    check_names(collection=collection, member=member)
    quantity = quantity_body(json_body())
    written = units.put_member(
        collection, member, quantity, Precondition.from_request(), by=actor()
    )
    return _written(
        written,
        MEMBER_REPLACED,
        MEMBER_CREATED,
        ".get_member",
        collection=collection,
        member=member,
    )


@bp.delete("/stock/<collection>/<member>")
@documented(
    "deleteMember",
    tag="stock",
    parameters=WRITE_PRECONDITIONS,
    responses=operation_responses(
        _DELETED,
        not_found=(units.COLLECTION_NOT_FOUND, units.MEMBER_NOT_FOUND),
        conditional=True,
    ),
    also={
        "/stock/{collection}/history": _member_named_history(
            "deleteHistoryMember", "Delete the member named history"
        ),
        "/stock/{collection}/series": _member_named_history(
            "deleteSeriesMember", "Delete the member named series"
        ),
    },
)
@requires("write")
def delete_member(collection: str, member: str) -> Any:
    """Delete one member of a collection."""
    check_names(collection=collection, member=member)
    units.delete_member(collection, member, Precondition.from_request(), by=actor())
    return "", 204


@bp.post("/stock/<collection>/<member>/adjustments")
@documented(
    "adjustMember",
    tag="inventory",
    parameters=WRITE_PRECONDITIONS,
    body={
        "required": True,
        "content": media(
            ref("schemas", "Adjustment"), example={"delta": -3, "reason": "sold"}
        ),
    },
    responses=operation_responses(
        {
            "200": ok_response(
                "The new quantity, and the member's new `ETag`.",
                ref("schemas", "Adjusted"),
                "ETag",
                links=member_links(),
            )
        },
        not_found=(units.COLLECTION_NOT_FOUND, units.MEMBER_NOT_FOUND),
        body=True,
        conditional=True,
        extra={
            "409": {
                "description": "The quantity would go below 0 or above 2^63-1;"
                " nothing was changed.",
                "content": media(
                    ref("schemas", "RefusedAdjustment"), PROBLEM_MEDIA_TYPE
                ),
            }
        },
    ),
)
@requires("write")
@idempotent
def adjust_member(collection: str, member: str) -> Any:
    """Change a member's quantity by a delta, atomically.

    Refused with 409 (and nothing changed) when the quantity would leave 0 to
    2^63-1; the problem then carries the current `quantity`.
    """
    check_names(collection=collection, member=member)
    delta, reason = adjustment_body(json_body())
    adjusted = units.adjust_member(
        collection, member, delta, reason, Precondition.from_request(), by=actor()
    )
    return {"quantity": adjusted.quantity}, 200, {"ETag": etag(adjusted.version)}


@bp.get("/get-text")
@documented(
    "getText",
    tag="text",
    responses=operation_responses(
        {
            "200": {
                "description": f"The text `{SOME_TEXT}`.",
                "content": {"text/plain": {"schema": {"const": SOME_TEXT}}},
            }
        },
        names=False,
        database=False,
    ),
)
@public
def get_text() -> Any:
    """The tutorial's fixed text."""
    return SOME_TEXT, _TEXT


@bp.get("/qs")
@documented(
    "echoQuery",
    tag="text",
    parameters=(
        {
            "name": "pairs",
            "in": "query",
            "description": "Any keys and values.",
            "style": "form",
            "explode": True,
            "schema": {"type": "object"},
            "example": {"colour": "red"},
        },
    ),
    responses=operation_responses(
        {
            "200": {
                "description": "The pairs as text.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
        names=False,
        database=False,
    ),
)
@public
def query_string() -> Any:
    """Echo the query string.

    Each pair as `key: value`, separated by spaces, or `No query` when there is
    none.
    """
    pairs = [f"{key}: {value}" for key, value in request.args.items(multi=True)]
    # Plain text, so an echoed value can never run as script in a browser.
    return " ".join(pairs) or NO_QUERY, _TEXT
