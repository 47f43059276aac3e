"""Reorder levels and the low-stock list: the JSON routes and their OpenAPI part.

A member whose quantity is at or below its reorder level is low. The level is
part of the member: setting it changes the member's version (its ETag), and the
low-stock list is read through an index of the low members only.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from ..access.identity import current_identity
from ..access.permissions import prefers_html, requires
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
from ..core.errors import not_found
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
        raise not_found(f'member "{member}" in collection "{collection}"')
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
        collection, member, level, Precondition.from_request()
    )
    message = LEVEL_CLEARED if level is None else LEVEL_SET
    return {"message": message}, 200, {"ETag": etag(written.version)}


@bp.get("/low-stock")
@documented(
    "lowStock",
    tag="inventory",
    parameters=(ref("parameters", "LowStockLimit"), ref("parameters", "Cursor")),
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
    ),
)
@requires("read", negotiated=True)
def low_stock() -> Any:
    """The members at or below their reorder level.

    Oldest member first, a page at a time; follow `Link: rel="next"` for the
    next page. A token limited to some collections sees only theirs.
    """
    # JSON, or the page a browser asks for.
    pages = reads.LOW_STOCK_PAGES
    limit, after_id = pages.params(request.args)
    assert limit is not None
    rows = reads.low_stock(current_identity().collections, after_id or 0, limit + 1)
    next_page = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_page = rows[-1].id
    members = [
        {
            "collection": row.collection,
            "member": row.member,
            "quantity": row.quantity,
            "reorder_level": row.reorder_level,
        }
        for row in rows
    ]
    # Caches keep the HTML and the JSON answers apart.
    headers = {"Vary": "Accept"}
    if prefers_html():
        more = None if next_page is None else pages.next_url(limit, next_page)
        page = render_template("stock/low_stock.html", members=members, next_page=more)
        return page, 200, headers
    if next_page is not None:
        headers.update(pages.next_link(limit, next_page))
    return {"low_stock": members}, 200, headers


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
        )
    }
