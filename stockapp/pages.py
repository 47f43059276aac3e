"""The HTML front: a stock overview and a form that adds a collection."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from . import stock
from .validation import ValidationError, collection_form

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> Any:
    """Every collection with its members and quantities."""
    return render_template("index.html", stock=stock.all_stock())


@bp.get("/add-collection")
def add_collection() -> Any:
    """The add-collection form beside the current stock."""
    return render_template(
        "add_collection.html", stock=stock.all_stock(), errors={}, form={}
    )


@bp.post("/add-collection")
def submit_collection() -> Any:
    """Create a collection with one member from the form, then show the form again."""
    try:
        collection, member, quantity = collection_form(request.form)
    except ValidationError as error:
        page = render_template(
            "add_collection.html",
            stock=stock.all_stock(),
            errors=error.errors,
            form=request.form,
        )
        return page, 400
    if stock.create_collection(collection, {member: quantity}) is not None:
        flash("Collection created", "success")
    else:
        flash("Collection already exists", "error")
    # Post/redirect/get: reloading the page does not submit the form again.
    return redirect(url_for(".add_collection"), 303)
