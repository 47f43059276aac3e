"""Reorder levels and the low-stock list: the JSON routes and their OpenAPI part.

A member whose quantity is at or below its reorder level is low. The level is
part of the member: setting it changes the member's version (its ETag), and the
low-stock list is read through an index of the low members only.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for

from ..access.identity import actor, current_identity
from ..access.permissions import prefers_html, refuse_unseen_collection, requires
from ..core.api_doc import (
    Schema,
    documented,
    limit_parameter,
    media,
    message_schema,
    ok_response,
    operation_responses,
    ref,
)
from ..core.api_document import api_blueprint
from ..core.conditions import Precondition, etag, tagged
from ..core.errors import no_member, not_found
from ..core.guards import json_body
from ..core.rules import check_names, reorder_level_body
from . import reads, units

bp = api_blueprint("reorder", __name__, template_folder="templates")

LEVEL_SET, LEVEL_CLEARED = "Reorder level set", "Reorder level cleared"


_LEVEL = ref("schemas", "ReorderLevel")


@bp.get("/stock/<collection>/<member>/reorder-level")
@documented(
    "getReorderLevel",
    tag="inventory",
    parameters=(ref("parameters", "IfNoneMatchRead"),),
    responses=operation_responses(
        {
            "200": ok_response(
                "The level, a bare JSON integer, or null when none is set; `ETag`"
                " is the member's.",
                _LEVEL,
                "ETag",
            ),
            "304": ref("responses", "NotModified"),
        },
        not_found=("Not found",),
    ),
)
@requires("read")
def get_reorder_level(collection: str, member: str) -> Any:
    """A member's reorder level."""
    # A bare JSON integer, or null if none is set.
    check_names(collection=collection, member=member)
    found = reads.reorder_level(collection, member)
    if found is None:
        raise no_member(collection, member)
    return tagged(*found)


@bp.put("/stock/<collection>/<member>/reorder-level")
@documented(
    "putReorderLevel",
    tag="inventory",
    parameters=(ref("parameters", "IfMatch"),),
    body={"required": True, "content": media(_LEVEL, example=10)},
    responses=operation_responses(
        {
            "200": ok_response(
                "Set (an integer) or cleared (null); `ETag` is the member's new tag.",
                {"oneOf": [message_schema(LEVEL_SET), message_schema(LEVEL_CLEARED)]},
                "ETag",
            )
        },
        not_found=(units.COLLECTION_NOT_FOUND, units.MEMBER_NOT_FOUND),
        body=True,
        conditional=True,
    ),
)
@requires("write")
def put_reorder_level(collection: str, member: str) -> Any:
    """Set or clear a member's reorder level.

    A member whose quantity is at or below its level is listed by
    `GET /low-stock`. Setting a different level changes the member's `ETag`.
    """
    check_names(collection=collection, member=member)
    level = reorder_level_body(json_body())
    written = units.set_reorder_level(
        collection, member, level, Precondition.from_request(), by=actor()
    )
    message = LEVEL_CLEARED if level is None else LEVEL_SET
    return {"message": message}, 200, {"ETag": etag(written.version)}


@bp.get("/low-stock")
@documented(
    "lowStock",
    tag="inventory",
    parameters=(
        ref("parameters", "LowStockLimit"),
        ref("parameters", "Cursor"),
        ref("parameters", "LowStockSort"),
        ref("parameters", "LowStockCollection"),
    ),
    responses=operation_responses(
        {
            "200": ok_response(
                "One page of low members; `Link` names the next page while there"
                " is one.",
                ref("schemas", "LowStock"),
                "Link",
            )
        },
        names=False,
        paged=True,
        not_found=("Not found",),
    ),
)
@requires("read", negotiated=True)
def low_stock() -> Any:
    """The members at or below their reorder level.

    Oldest member first (or, `sort=shortfall`, the furthest below its level
    first), a page at a time; follow `Link: rel="next"` for the next page.
    `collection` lists one collection's only. A token limited to some
    collections sees only theirs.
    """
    # JSON, or the page a browser asks for.
    listing = reads.low_stock_listing(request.args)
    refuse_unknown_collection(listing.collection)
    only = current_identity().collections
    rows = reads.low_members(only, listing, listing.limit + 1)
    next_cursor = None
    if len(rows) > listing.limit:
        rows = rows[: listing.limit]
        next_cursor = reads.low_stock_cursor(listing, rows[-1])
    # Caches keep the HTML and the JSON answers apart.
    headers = {"Vary": "Accept"}
    more = None
    if next_cursor is not None:
        # As always, the next page's link names its limit.
        more = url_for(
            ".low_stock", **_kept(listing), limit=listing.limit, cursor=next_cursor
        )
    if prefers_html():
        page = render_template(
            "stock/low_stock.html",
            members=rows,
            next_page=more,
            listing=listing,
            sorts=reads.LOW_STOCK_SORTS,
        )
        return page, 200, headers
    if more is not None:
        headers["Link"] = f'<{more}>; rel="next"'
    members = [
        {
            "collection": row.collection,
            "member": row.member,
            "quantity": row.quantity,
            "reorder_level": row.reorder_level,
        }
        for row in rows
    ]
    return {"low_stock": members}, 200, headers


def _kept(listing: reads.LowStockListing) -> dict[str, str]:
    """The sort and collection the next page keeps; the default sort unsaid."""
    kept = {}
    if listing.sort != reads.LOW_STOCK_SORTS[0]:
        kept["sort"] = listing.sort
    if listing.collection is not None:
        kept["collection"] = listing.collection
    return kept


def refuse_unknown_collection(collection: str | None) -> None:
    """404 for a collection asked for that is not there or not the caller's
    (the same answer either way, as everywhere)."""
    if collection is None:
        return
    refuse_unseen_collection(collection, creates=False)
    if not reads.collection_exists(collection):
        raise not_found(f'collection "{collection}"')


# The OpenAPI document's part ---------------------------------------------------


def reorder_schemas() -> dict[str, Schema]:
    quantity = ref("schemas", "Quantity")
    return {
        "ReorderLevel": {
            "description": "A quantity at or below which stock is low; null: none.",
            "oneOf": [quantity, {"type": "null"}],
        },
        "LowStock": {
            "type": "object",
            "required": ["low_stock"],
            "properties": {
                "low_stock": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": [
                            "collection",
                            "member",
                            "quantity",
                            "reorder_level",
                        ],
                        "properties": {
                            "collection": ref("schemas", "Name"),
                            "member": ref("schemas", "Name"),
                            "quantity": quantity,
                            "reorder_level": quantity,
                        },
                        "additionalProperties": False,
                    },
                }
            },
            "additionalProperties": False,
        },
    }


def reorder_parameters() -> dict[str, Schema]:
    return {
        "LowStockLimit": limit_parameter(
            reads.LOW_STOCK_PAGES, "How many members per page, in plain digits."
        ),
        "LowStockSort": {
            "name": "sort",
            "in": "query",
            "description": "`created`: the oldest member first; `shortfall`: the"
            " furthest below its level (level minus quantity) first, then the"
            " oldest. A cursor is for the sort that gave it out.",
            "schema": {"enum": list(reads.LOW_STOCK_SORTS), "default": "created"},
        },
        "LowStockCollection": {
            "name": "collection",
            "in": "query",
            "description": "Only this collection's low members (404 if there is"
            " no such collection, or it is not the caller's).",
            "schema": ref("schemas", "Name"),
        },
    }
