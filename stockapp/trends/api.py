"""Stock over time over the JSON API: a member's or a collection's series,
and their part of the OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import request

from ..access.permissions import requires
from ..core.api_doc import (
    TIMESTAMP,
    Schema,
    documented,
    ok_response,
    operation_responses,
    ref,
)
from ..core.api_document import api_blueprint
from ..core.rules import check_names
from .boundaries import (
    DEFAULT_SPAN,
    DEFAULT_STEP,
    MAX_POINTS,
    NAMED_STEPS,
    SECONDS_PATTERN,
    TIME_PATTERN,
)
from .series import collection_series, member_series

bp = api_blueprint("trends_api", __name__)

_PARAMETERS = (
    ref("parameters", "SeriesFrom"),
    ref("parameters", "SeriesTo"),
    ref("parameters", "SeriesStep"),
)


@bp.get("/stock/<collection>/<member>/series")
@documented(
    "memberSeries",
    tag="inventory",
    parameters=_PARAMETERS,
    responses=operation_responses(
        {
            "200": ok_response(
                "The member's quantity and reorder level at each boundary.",
                ref("schemas", "MemberSeries"),
            )
        },
        not_found=("Not found",),
    ),
)
@requires("read")
def get_member_series(collection: str, member: str) -> Any:
    """A member's quantity over time, from the movement log.

    A point at `from` and at each `step` after it up to `to`: the quantity
    after the member's last movement at or before that time (before its first
    movement, that movement's `before`; after a delete, 0) and its reorder
    level then.
    """
    check_names(collection=collection, member=member)
    return member_series(collection, member, request.args).as_json()


@bp.get("/stock/<collection>/series")
@documented(
    "collectionSeries",
    tag="inventory",
    parameters=_PARAMETERS,
    responses=operation_responses(
        {
            "200": ok_response(
                "The sum of the members' quantities at each boundary.",
                ref("schemas", "CollectionSeries"),
            )
        },
        not_found=("Not found",),
    ),
)
@requires("read")
def get_collection_series(collection: str) -> Any:
    """A collection's quantity over time: the sum of its members'.

    Every member the collection's log names counts, those deleted since too
    (each until it was deleted). No reorder level: a collection has none. The
    URL's other methods reach the member named `series`.
    """
    check_names(collection=collection)
    return collection_series(collection, request.args).as_json()


# The OpenAPI document's part ---------------------------------------------------


_TIME: Schema = {"type": "string", "pattern": f"^{TIME_PATTERN}$"}


def series_parameters() -> dict[str, Schema]:
    days = DEFAULT_SPAN.days
    return {
        "SeriesFrom": {
            "name": "from",
            "in": "query",
            "description": "The first point's time: an ISO 8601 date (its midnight"
            " UTC) or time (UTC unless it names an offset). Default: `to` less"
            f" {days} days.",
            "schema": _TIME,
            "example": "2026-11-03",
        },
        "SeriesTo": {
            "name": "to",
            "in": "query",
            "description": "The last point's time at the latest, like `from`;"
            " not before it. Default: now (or `from`, when that is later).",
            "schema": _TIME,
            "example": "2026-12-03T12:00:00Z",
        },
        "SeriesStep": {
            "name": "step",
            "in": "query",
            "description": "The time between points: a name (a month is a calendar"
            " month, on `from`'s day or the month's last) or a number of seconds."
            f" At most {MAX_POINTS} points: more is refused (400).",
            "schema": {
                "oneOf": [
                    {"enum": list(NAMED_STEPS)},
                    {"type": "string", "pattern": f"^{SECONDS_PATTERN}$"},
                ],
                "default": DEFAULT_STEP,
            },
            "example": "day",
        },
    }


def series_schemas() -> dict[str, Schema]:
    name, quantity = ref("schemas", "Name"), ref("schemas", "Quantity")
    window = {
        "from": TIMESTAMP,
        "to": TIMESTAMP,
        "step": {
            "oneOf": [
                {"enum": list(NAMED_STEPS)},
                {"type": "integer", "minimum": 1, "description": "Seconds."},
            ]
        },
    }
    level = {
        "oneOf": [ref("schemas", "Quantity"), {"type": "null"}],
        "description": "The reorder level then; null: none set.",
    }

    def points(*extra: str, **properties: Schema) -> Schema:
        return {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_POINTS,
            "items": {
                "type": "object",
                "required": ["at", "quantity", *extra],
                "properties": {"at": TIMESTAMP, "quantity": quantity, **properties},
                "additionalProperties": False,
            },
        }

    return {
        "MemberSeries": {
            "type": "object",
            "required": ["collection", "member", "from", "to", "step", "points"],
            "properties": {
                "collection": name,
                "member": name,
                **window,
                "points": points("reorder_level", reorder_level=level),
            },
            "additionalProperties": False,
        },
        "CollectionSeries": {
            "type": "object",
            "required": ["collection", "from", "to", "step", "points"],
            "properties": {"collection": name, **window, "points": points()},
            "additionalProperties": False,
        },
    }
