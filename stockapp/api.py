"""The JSON API: the tutorial's routes backed by the database, plus inventory moves."""

from __future__ import annotations

import functools
import json
from contextlib import closing
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from . import history, stock
from .access.identity import actor, current_identity
from .access.permissions import public, requires
from .conditions import Precondition, etag, is_not_modified, tagged
from .errors import Problem, not_found
from .guards import json_body
from .idempotency import idempotent
from .validation import (
    adjustment_body,
    check_names,
    quantity_body,
    stock_body,
)

bp = Blueprint("api", __name__)


def _written(
    written: stock.Written,
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


def _history(collection: str, member: str | None) -> Any:
    pages = history.HISTORY_PAGES
    limit, before_id = pages.params(request.args)
    assert limit is not None
    movements, next_before = history.movements_page(
        collection, member, limit, before_id
    )
    headers = {} if next_before is None else pages.next_link(limit, next_before)
    return {"movements": movements}, 200, headers


@bp.get("/stock")
@requires("read")
def list_stock() -> Any:
    """Every collection with its members and quantities; a page of collections
    with ``limit`` / ``cursor``. The whole stock is streamed as it is read."""
    pages = stock.COLLECTION_PAGES
    limit, after_id = pages.params(request.args, whole_by_default=True)
    only = current_identity().collections
    if limit is None:
        rows = stock.stock_objects(only, 0, None)
        response = Response(stock.stock_json(rows), mimetype="application/json")
        response.call_on_close(rows.close)
        return response
    with closing(stock.stock_objects(only, after_id or 0, limit + 1)) as stream:
        rows = list(stream)
    headers = {}
    if len(rows) > limit:
        rows = rows[:limit]
        headers = pages.next_link(limit, rows[-1][0])
    body = "".join(stock.stock_json(rows))
    return Response(body, mimetype="application/json", headers=headers)


@bp.get("/stock/<collection>")
@requires("read")
def get_collection(collection: str) -> Any:
    """The members of one collection with their quantities; a page of them
    with ``limit`` / ``cursor``."""
    check_names(collection=collection)
    pages = stock.MEMBER_PAGES
    limit, after_id = pages.params(request.args, whole_by_default=True)
    found = stock.collection_page(
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
    found = stock.member_quantity(collection, member)
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
    written = stock.create_collection(collection, members, by=actor())
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
    written = stock.replace_collection(
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
    written = stock.update_collection(
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
    stock.delete_collection(collection, Precondition.from_request(), by=actor())
    return "", 204


@bp.put("/stock/<collection>/<member>")
@requires("write")
def put_member(collection: str, member: str) -> Any:
    """Set one member's quantity (the body is a bare integer), creating it if needed."""
    check_names(collection=collection, member=member)
    quantity = quantity_body(json_body())
    written = stock.put_member(
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
    stock.delete_member(collection, member, Precondition.from_request(), by=actor())
    return "", 204


@bp.post("/stock/<collection>/<member>/adjustments")
@requires("write")
@idempotent
def adjust_member(collection: str, member: str) -> Any:
    """Change a member's quantity by a delta, atomically; 409 if it would go below 0."""
    check_names(collection=collection, member=member)
    delta, reason = adjustment_body(json_body())
    adjusted = stock.adjust_member(
        collection, member, delta, reason, Precondition.from_request(), by=actor()
    )
    return {"quantity": adjusted.quantity}, 200, {"ETag": etag(adjusted.version)}


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
