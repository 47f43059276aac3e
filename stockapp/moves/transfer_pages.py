"""The "Move…" page: a clerk moves stock from one member to another member,
in the same or another collection, by the transfer unit of work (transfers.py)
the JSON API uses.

A success goes back to the source's collection page with a notice naming both
ends and what each holds now; a refusal (too little stock, the same member,
a bad field) shows the form again with the values typed and the reason beside
them.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from ..access.identity import actor, current_identity
from ..access.permissions import refuse_unseen_collection, requires
from ..core.conditions import Precondition
from ..core.errors import Problem, no_member
from ..core.extensions import db
from ..core.rules import (
    MAX_QUANTITY,
    ValidationError,
    check_names,
    form_amount,
    form_fields,
    form_name,
    form_reason,
)
from ..stock import listings
from ..stock.ledger import INSUFFICIENT_STOCK, QUANTITY_LIMIT_EXCEEDED
from ..stock.models import Collection
from ..stock.pages import listing_args
from .transfers import Place, Transfer, Transferred, transfer, transfer_body

bp = Blueprint("transfer_pages", __name__, template_folder="templates")

_MOVE = "/collections/<collection>/members/<member>/move"
# The answers to a form that was not carried out.
_INVALID, _CONFLICT = 400, 409
SAME_MEMBER = "is the member being moved: choose another member or collection"


def collection_names(only: frozenset[str] | None) -> list[str]:
    """The names of the collections the caller may see, A to Z (a page's
    select of collections)."""
    names = select(Collection.name).order_by(Collection.name)
    if only is not None:
        names = names.where(Collection.name.in_(sorted(only)))
    return list(db.session.execute(names).scalars())


def _source(collection: str, member: str) -> listings.MemberRow:
    """The member stock is moved from, as stored now, or a 404 page."""
    found = listings.member_details(collection, member)
    if found is None:
        raise no_member(collection, member)
    return found


def _move_page(
    collection: str,
    member: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Any:
    """The move form for ``member``; after ``errors``, with the values typed."""
    source = _source(collection, member)
    names = collection_names(current_identity().collections)
    # By default the stock goes elsewhere: the first other collection.
    elsewhere = [name for name in names if name != collection]
    typed = request.form if errors else {}
    page = render_template(
        "moves/move.html",
        collection=collection,
        source=source,
        collections=names,
        chosen=typed.get("collection", elsewhere[0] if elsewhere else collection),
        form=typed,
        errors=errors or {},
        listing=listing_args(),
    )
    return page, status


@bp.get(_MOVE)
@requires("write", page=True)
def move_form(collection: str, member: str) -> Any:
    """The form that moves some of a member's stock to another member."""
    check_names(collection=collection, member=member)
    return _move_page(collection, member)


@bp.post(_MOVE)
@requires("write", page=True)
def move(collection: str, member: str) -> Any:
    """Move the quantity typed from the member to the member chosen."""
    check_names(collection=collection, member=member)
    form = request.form
    try:
        to_collection, to_member, quantity, reason = form_fields(
            (form_name, form.get("collection", ""), "collection"),
            (form_name, form.get("member", ""), "member"),
            (form_amount, form.get("quantity", ""), "quantity"),
            (form_reason, form.get("reason", ""), "reason"),
        )
        # The same rules as the API's body (the two ends must differ).
        asked = transfer_body(
            {
                "from": {"collection": collection, "member": member},
                "to": {"collection": to_collection, "member": to_member},
                "quantity": quantity,
                "reason": reason,
            }
        )
    except ValidationError as error:
        return _move_page(collection, member, _INVALID, _form_errors(error.errors))
    try:
        # A token limited to some collections moves only between those.
        refuse_unseen_collection(to_collection, creates=False)
        moved = transfer(asked, Precondition(), by=actor())
    except Problem as problem:
        if problem.status not in (404, 409):
            raise
        # Gone meanwhile: nothing to show the form for (a 404 page).
        _source(collection, member)
        return _move_page(collection, member, _CONFLICT, _refusal(asked, problem))
    flash(_moved(asked, moved), "success")
    url = url_for(
        "collection_pages.collection", collection=collection, **listing_args()
    )
    return redirect(url, 303)


def _form_errors(errors: dict[str, str]) -> dict[str, str]:
    """The API's reasons keyed by the form's fields."""
    fields = {"to": "member", "to.collection": "collection", "to.member": "member"}
    found = {fields.get(key, key): why for key, why in errors.items()}
    if "to" in errors:
        found["member"] = SAME_MEMBER
    return found


def _refusal(asked: Transfer, problem: Problem) -> dict[str, str]:
    """What to tell the clerk about a transfer the unit of work refused."""
    source, destination = asked.source, asked.destination
    if problem.status == 404:
        # Deleted meanwhile, or a collection a limited token may not see.
        return {"collection": f"{destination.collection} does not exist"}
    holds = problem.extra.get("quantity")
    if problem.error == INSUFFICIENT_STOCK:
        why = f"is more than {source.member} holds ({holds}): nothing was moved"
        return {"quantity": why}
    if problem.error == QUANTITY_LIMIT_EXCEEDED:
        why = (
            f"would take {_place(destination)} past {MAX_QUANTITY} (it holds"
            f" {holds}): nothing was moved"
        )
        return {"quantity": why}
    return {"form": problem.detail}


def _place(place: Place) -> str:
    return f"{place.member} in {place.collection}"


def _moved(asked: Transfer, moved: Transferred) -> str:
    """The notice of a transfer: both ends and what each holds now."""
    made = " (a new member)" if moved.created else ""
    return (
        f"Moved {asked.quantity} from {_place(asked.source)} to"
        f" {_place(asked.destination)}{made}. Now {_place(asked.source)} holds"
        f" {moved.source.quantity} and {_place(asked.destination)} holds"
        f" {moved.destination.quantity}."
    )
