"""The JSON API: the tutorial's routes, now backed by the database."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for

from . import stock
from .errors import Problem
from .validation import (
    MalformedJSON,
    ValidationError,
    check_names,
    parse_json,
    quantity_body,
    stock_body,
)

bp = Blueprint("api", __name__)


def _not_found(what: str) -> Problem:
    return Problem(404, "Not found", f"There is no {what}.")


def _json_body() -> Any:
    """The request body parsed as strict JSON; 415 unless it is declared JSON."""
    if not request.is_json:
        raise Problem(
            415,
            "Unsupported media type",
            "The body must be JSON, sent with Content-Type: application/json.",
        )
    try:
        return parse_json(request.get_data(cache=False))
    except MalformedJSON as error:
        raise ValidationError({"body": str(error)}) from None


def _created(message: str, location: str) -> tuple[dict[str, str], int, dict[str, str]]:
    return {"message": message}, 201, {"Location": location}


def _collection_written(name: str, created: bool, updated_message: str) -> Any:
    if created:
        return _created(
            "Collection created", url_for(".get_collection", collection=name)
        )
    return {"message": updated_message}


@bp.get("/stock")
def list_stock() -> Any:
    """Every collection with its members and quantities."""
    return stock.all_stock()


@bp.get("/stock/<collection>")
def get_collection(collection: str) -> Any:
    """The members of one collection with their quantities."""
    check_names(collection=collection)
    members = stock.collection_stock(collection)
    if members is None:
        raise _not_found(f'collection "{collection}"')
    return members


@bp.get("/stock/<collection>/<member>")
def get_member(collection: str, member: str) -> Any:
    """The quantity of one member, as a bare JSON integer."""
    check_names(collection=collection, member=member)
    quantity = stock.member_quantity(collection, member)
    if quantity is None:
        raise _not_found(f'member "{member}" in collection "{collection}"')
    return jsonify(quantity)


@bp.post("/stock/<collection>")
def create_collection(collection: str) -> Any:
    """Create a collection with the members in the body; 400 if it already exists."""
    check_names(collection=collection)
    members = stock_body(_json_body(), allow_null=False)
    if not stock.create_collection(collection, members):
        raise Problem(
            400,
            "Collection already exists",
            f'A collection named "{collection}" already exists; nothing was changed.',
        )
    return _created(
        "Collection created", url_for(".get_collection", collection=collection)
    )


@bp.put("/stock/<collection>")
def replace_collection(collection: str) -> Any:
    """Make the collection hold exactly the body's members, creating it if needed."""
    check_names(collection=collection)
    members = stock_body(_json_body(), allow_null=False)
    created = stock.replace_collection(collection, members)
    return _collection_written(collection, created, "Collection replaced")


@bp.patch("/stock/<collection>")
def update_collection(collection: str) -> Any:
    """Merge the body into the collection (RFC 7396): null removes a member."""
    check_names(collection=collection)
    changes = stock_body(_json_body(), allow_null=True)
    created = stock.update_collection(collection, changes)
    return _collection_written(collection, created, "Collection updated")


@bp.delete("/stock/<collection>")
def delete_collection(collection: str) -> Any:
    """Delete the collection and all its members."""
    check_names(collection=collection)
    stock.delete_collection(collection)
    return "", 204


@bp.put("/stock/<collection>/<member>")
def put_member(collection: str, member: str) -> Any:
    """Set one member's quantity (the body is a bare integer), creating it if needed."""
    check_names(collection=collection, member=member)
    quantity = quantity_body(_json_body())
    if stock.put_member(collection, member, quantity):
        location = url_for(".get_member", collection=collection, member=member)
        return _created("Member created", location)
    return {"message": "Member replaced"}


@bp.delete("/stock/<collection>/<member>")
def delete_member(collection: str, member: str) -> Any:
    """Delete one member of a collection."""
    check_names(collection=collection, member=member)
    stock.delete_member(collection, member)
    return "", 204


@bp.get("/get-text")
def get_text() -> Any:
    """The tutorial's fixed text."""
    return "some text", {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/qs")
def query_string() -> Any:
    """Echo the query string as ``key: value`` pairs, or ``No query``."""
    pairs = [f"{key}: {value}" for key, value in request.args.items(multi=True)]
    # Plain text, so an echoed value can never run as script in a browser.
    return " ".join(pairs) or "No query", {"Content-Type": "text/plain; charset=utf-8"}
