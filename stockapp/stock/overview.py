"""The HTML front's overview (with the search) and the add-collection form."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from ..access.identity import actor, current_identity
from ..access.permissions import refuse_unseen_collection, requires
from ..core.rules import ValidationError, collection_form
from . import listings, reads, units

bp = Blueprint("pages", __name__, template_folder="templates")


def _collections_page() -> dict[str, Any]:
    """A page of collections with their totals in the order asked for, and the
    link to the next."""
    listing = listings.summary_listing(request.args)
    summaries, next_cursor = listings.collection_summaries(
        current_identity().collections, listing
    )
    # Every link keeps the sort and a limit asked for; the default goes unsaid.
    keep = {} if listing.sort == listings.SUMMARY_SORTS[0] else {"sort": listing.sort}
    if "limit" in request.args:
        keep["limit"] = str(listing.limit)
    more = None
    if next_cursor is not None:
        more = url_for(request.endpoint or "", **keep, cursor=next_cursor)
    return {
        "summaries": summaries,
        "more": more,
        "sort": listing.sort,
        "sorts": listings.SUMMARY_SORTS,
    }


def _collection_linked(collection: str, what: str) -> Markup:
    """The flash 'Collection <name> <what>', the name a link to its page.

    Markup, so the flash shows the link; built with format, which escapes the
    name (a name may hold < and "), so no name can add markup of its own.
    """
    href = url_for("collection_pages.collection", collection=collection)
    return Markup('Collection <a href="{}">{}</a> {}').format(href, collection, what)


@bp.get("/")
@requires("read", page=True)
def index() -> Any:
    """The collections with their totals, the low-stock count, and the search."""
    only = current_identity().collections
    text = listings.search_text(request.args)
    if not text:
        return render_template(
            "stock/index.html",
            low_stock_count=reads.low_stock_count(only),
            **_collections_page(),
        )
    pages = listings.SEARCH_PAGES
    limit, after_id = pages.params(request.args)
    assert limit is not None
    found = listings.search(text, only, after_id or 0, limit)
    more = None
    if found.next_after is not None:
        more = pages.next_url(limit, found.next_after, q=text)
    return render_template("stock/search.html", query=text, found=found, more=more)


@bp.get("/add-collection")
@requires("write", page=True)
def add_collection() -> Any:
    """The add-collection form beside the collections there are."""
    return render_template(
        "stock/add_collection.html", errors={}, form={}, **_collections_page()
    )


@bp.post("/add-collection")
@requires("write", page=True)
def submit_collection() -> Any:
    """Create a collection with one member from the form, then show the form again."""
    try:
        collection, member, quantity = collection_form(request.form)
    except ValidationError as error:
        page = render_template(
            "stock/add_collection.html",
            errors=error.errors,
            form=request.form,
            **_collections_page(),
        )
        return page, 400
    # The collection is named by the form, not the URL: checked like the API's.
    refuse_unseen_collection(collection, creates=True)
    if units.create_collection(collection, {member: quantity}, by=actor()):
        flash(_collection_linked(collection, "created"), "success")
    else:
        flash(_collection_linked(collection, "already exists"), "error")
    # Post/redirect/get: reloading the page does not submit the form again.
    return redirect(url_for(".add_collection"), 303)
