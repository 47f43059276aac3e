"""The movement log over the JSON API: a member's or a collection's history."""

from __future__ import annotations

from typing import Any

from flask import request

from ..access.permissions import requires
from ..core.api_doc import documented, ok_response, operation_responses, ref
from ..core.api_document import api_blueprint
from ..core.rules import check_names
from . import reads

bp = api_blueprint("history_api", __name__)

_PARAMETERS = (ref("parameters", "Limit"), ref("parameters", "Cursor"))
_RESPONSES = operation_responses(
    {
        "200": ok_response(
            "One page of movements, newest first; `Link` names the next page, if any.",
            ref("schemas", "History"),
            "Link",
        )
    }
)


def _history(collection: str, member: str | None) -> Any:
    pages = reads.HISTORY_PAGES
    limit, before_id = pages.params(request.args)
    assert limit is not None
    movements, next_before = reads.movements_page(collection, member, limit, before_id)
    headers = {} if next_before is None else pages.next_link(limit, next_before)
    return {"movements": movements}, 200, headers


@bp.get("/stock/<collection>/history")
@documented(
    "collectionHistory", tag="inventory", parameters=_PARAMETERS, responses=_RESPONSES
)
@requires("read")
def collection_history(collection: str) -> Any:
    """The movements of every member of a collection."""
    # Newest first, like a member's.
    check_names(collection=collection)
    return _history(collection, None)


@bp.get("/stock/<collection>/<member>/history")
@documented(
    "memberHistory", tag="inventory", parameters=_PARAMETERS, responses=_RESPONSES
)
@requires("read")
def member_history(collection: str, member: str) -> Any:
    """The movements of one member, newest first.

    The log outlives deleted members and collections.
    """
    check_names(collection=collection, member=member)
    return _history(collection, member)
