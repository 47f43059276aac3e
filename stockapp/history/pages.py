"""The movement log as pages: per collection and per member, newest first."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from ..access.permissions import requires
from ..core.rules import check_names
from . import reads

bp = Blueprint("history_pages", __name__, template_folder="templates")


@bp.get("/collections/<collection>/history")
@requires("read", page=True)
def collection_history(collection: str) -> Any:
    """Who changed what in a collection, newest first, a page at a time."""
    check_names(collection=collection)
    return _history_page(collection, None)


@bp.get("/collections/<collection>/members/<member>/history")
@requires("read", page=True)
def member_history(collection: str, member: str) -> Any:
    """Who changed one member, and how, newest first, a page at a time."""
    check_names(collection=collection, member=member)
    return _history_page(collection, member)


def _history_page(collection: str, member: str | None) -> Any:
    pages = reads.HISTORY_PAGES
    limit, before_id = pages.params(request.args)
    assert limit is not None
    movements, next_before = reads.movements_page(collection, member, limit, before_id)
    older = None if next_before is None else pages.next_url(limit, next_before)
    return render_template(
        "history/history.html",
        collection=collection,
        member=member,
        movements=movements,
        older=older,
    )
