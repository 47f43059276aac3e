"""The HTML front: a stock overview and a form that adds a collection."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from . import stock
from .access.identity import actor, current_identity
from .access.permissions import refuse_unseen_collection, requires
from .validation import ValidationError, collection_form

bp = Blueprint("pages", __name__)


def _visible_stock() -> dict[str, stock.Stock]:
    return stock.all_stock(current_identity().collections)


@bp.get("/")
@requires("read", page=True)
def index() -> Any:
    """Every collection with its members and quantities."""
    only = current_identity().collections
    return render_template(
        "index.html",
        stock=_visible_stock(),
        low_stock_count=stock.low_stock_count(only),
    )


@bp.get("/add-collection")
@requires("write", page=True)
def add_collection() -> Any:
    """The add-collection form beside the current stock."""
    return render_template(
        "add_collection.html", stock=_visible_stock(), errors={}, form={}
    )


@bp.post("/add-collection")
@requires("write", page=True)
def submit_collection() -> Any:
    """Create a collection with one member from the form, then show the form again."""
    try:
        collection, member, quantity = collection_form(request.form)
    except ValidationError as error:
        page = render_template(
            "add_collection.html",
            stock=_visible_stock(),
            errors=error.errors,
            form=request.form,
        )
        return page, 400
    # The collection is named by the form, not the URL: checked like the API's.
    refuse_unseen_collection(collection, creates=True)
    if stock.create_collection(collection, {member: quantity}, by=actor()):
        flash("Collection created", "success")
    else:
        flash("Collection already exists", "error")
    # Post/redirect/get: reloading the page does not submit the form again.
    return redirect(url_for(".add_collection"), 303)
