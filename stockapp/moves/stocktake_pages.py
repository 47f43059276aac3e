"""The clerk's stocktake pages: the counts open and recent, a count's page where
each member's shelf count is saved as it is made, and the review that commits
the counts to the stock (or cancels them).

Every write goes through the units of work in stocktakes.py, as the API's do.
Each form redirects back (post/redirect/get) with a notice; a count's Save
comes back to the member's place in the list (a URL fragment), so a clerk on a
phone works down the list without scrolling back to where they were. A refused
form is shown again with the reason beside it.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from ..access.identity import actor, current_identity
from ..access.permissions import requires
from ..core.cursors import MAX_ID
from ..core.errors import Problem
from ..core.rules import (
    ValidationError,
    check_names,
    form_fields,
    form_name,
    form_quantity,
    form_reason,
)
from ..stock.listings import search_text
from . import stocktake_reports, stocktakes
from .transfer_pages import collection_names

bp = Blueprint("stocktake_pages", __name__, template_folder="templates")

# The JSON API has /stocktakes; the pages are beside it, as /collections is
# beside /stock.
_LIST = "/stocktaking"
_ONE = f"{_LIST}/<int(max={MAX_ID}):stocktake_id>"
# The closed stocktakes the list shows below the open ones, newest first.
RECENT = 20
# What the commit does with the members nobody counted, as the form offers it.
UNCOUNTED_CHOICES = {
    "leave": "Leave them as they are",
    "zero": "Set them to 0 (not on the shelf)",
}
# Answers to a form that could not be carried out.
_INVALID, _CONFLICT = 400, 409


class FailedCount(NamedTuple):
    """A count's form that was refused, shown again with why."""

    member: str | None
    # Why, by field ("form": about the whole form).
    errors: dict[str, str]


_NOTHING_FAILED = FailedCount(None, {})


def _only() -> frozenset[str] | None:
    """The collections the caller may see (None: every one)."""
    return current_identity().collections


def anchor(member: str) -> str:
    """The id of a member's place on the count page: short and safe in a URL
    whatever the name holds, and the same on every load."""
    digest = hashlib.blake2s(member.encode(), digest_size=6).hexdigest()
    return f"m-{digest}"


def _filter_args() -> dict[str, str]:
    """The count page's filter, kept across its forms."""
    text = search_text(request.args)
    return {"q": text} if text else {}


# The list, and opening a count ---------------------------------------------


def _list_page(status: int = 200, errors: dict[str, str] | None = None) -> Any:
    """The open and recent stocktakes, and the form that opens one."""
    every = stocktake_reports.list_stocktakes(_only())
    page = render_template(
        "moves/stocktakes.html",
        open_ones=[one for one in every if one["state"] == "open"],
        closed=[one for one in every if one["state"] != "open"][:RECENT],
        collections=collection_names(_only()),
        errors=errors or {},
        form=request.form if errors else MultiDict(),
    )
    return page, status


@bp.get(_LIST)
@requires("read", page=True)
def stocktakes_page() -> Any:
    """The stocktakes open now and the recent ones, and "Open a count"."""
    return _list_page()


@bp.post(_LIST)
@requires("write", page=True)
def open_count() -> Any:
    """Open a stocktake of the collection chosen; go to its count page."""
    try:
        collection, note = form_fields(
            (form_name, request.form.get("collection", ""), "collection"),
            (form_reason, request.form.get("note", ""), "note"),
        )
    except ValidationError as error:
        return _list_page(_INVALID, error.errors)
    try:
        opened = stocktakes.open_stocktake(collection, note, by=actor(), only=_only())
    except Problem as problem:
        if problem.status != 404:
            raise
        # Deleted meanwhile, or one a limited token may not see.
        return _list_page(_CONFLICT, {"collection": f"{collection} does not exist"})
    flash(
        f"Stocktake {opened} of {collection} opened: count each member, then"
        " review the differences and commit.",
        "success",
    )
    return redirect(url_for(".count_page", stocktake_id=opened), 303)


# Counting ------------------------------------------------------------------


def _count_page(
    stocktake_id: int,
    status: int = 200,
    *,
    failed: FailedCount = _NOTHING_FAILED,
    alert: str | None = None,
) -> Any:
    """A stocktake's members to count and counted; ``failed`` shows a refused
    form again beside its member."""
    report = stocktake_reports.stocktake_report(stocktake_id, _only())
    text = search_text(request.args)
    matches = _matching(text)
    counted = sorted(
        (count for count in report["counts"] if matches(count["member"])),
        key=lambda count: _name_order(count["member"]),
    )
    uncounted = sorted(filter(matches, report["uncounted"]), key=_name_order)
    listed = set(uncounted) | {count["member"] for count in counted}
    if failed.member is not None and failed.member not in listed:
        # No row to say it beside (not a member, or not in the filter).
        errors = failed.errors
        why = errors.get("form") or f"{failed.member} {errors['quantity']}"
        alert, failed = why, _NOTHING_FAILED
    page = render_template(
        "moves/count.html",
        stocktake=report,
        total=len(report["counts"]) + len(report["uncounted"]),
        counted=counted,
        uncounted=uncounted,
        query=text,
        keep=_filter_args(),
        failed=failed,
        alert=alert,
        form=request.form if failed.member is not None else MultiDict(),
        anchor=anchor,
    )
    return page, status


def _matching(text: str) -> Any:
    """Whether a member's name holds ``text``, ignoring case (all if empty)."""
    wanted = text.casefold()
    return lambda name: wanted in name.casefold()


def _name_order(name: str) -> tuple[str, str]:
    return name.casefold(), name


@bp.get(_ONE)
@requires("read", page=True)
def count_page(stocktake_id: int) -> Any:
    """The members still to count first, then those counted; ``?q=`` finds some."""
    return _count_page(stocktake_id)


@bp.post(f"{_ONE}/members/<member>/count")
@requires("write", page=True)
def save_count(stocktake_id: int, member: str) -> Any:
    """Save what was counted of one member (again: it replaces the count)."""
    check_names(member=member)
    form = request.form
    try:
        (quantity,) = form_fields((form_quantity, form.get("quantity", ""), "quantity"))
    except ValidationError as error:
        failed = FailedCount(member, error.errors)
        return _count_page(stocktake_id, _INVALID, failed=failed)
    before = stocktake_reports.stocktake_report(stocktake_id, _only())
    shown = {count["member"]: count for count in before["counts"]}.get(member)
    if before["state"] == "open" and _replaces_unseen(form, shown, quantity):
        assert shown is not None
        why = (
            f"{member} was counted as {shown['counted']} by"
            f" {shown['counted_by'] or 'anonymous'} meanwhile. Nothing was saved;"
            " save again to replace their count."
        )
        failed = FailedCount(member, {"form": why})
        return _count_page(stocktake_id, _CONFLICT, failed=failed)
    try:
        _, first = stocktakes.record_count(
            stocktake_id, member, quantity, by=actor(), only=_only()
        )
    except Problem as problem:
        if problem.error == stocktake_reports.STOCKTAKE_CLOSED:
            return _count_page(stocktake_id, _CONFLICT, alert=problem.detail)
        if problem.status not in (404, 409):
            raise
        failed = FailedCount(member, {"form": problem.detail})
        return _count_page(stocktake_id, _CONFLICT, failed=failed)
    if first:
        flash(f"Counted {member}: {quantity}.", "success")
    elif shown is None or shown["counted"] == quantity:
        flash(f"Recounted {member}: {quantity}.", "success")
    else:
        flash(f"Recounted {member}: {quantity} (was {shown['counted']}).", "success")
    # A first count goes on to the next member to count; a recount stays.
    place = anchor(member) if shown else _next_to_count(before["uncounted"], member)
    url = url_for(".count_page", stocktake_id=stocktake_id, **_filter_args())
    return redirect(f"{url}#{place}", 303)


def _replaces_unseen(
    form: MultiDict[str, str], shown: dict[str, Any] | None, quantity: int
) -> bool:
    """Whether the count would replace one saved since the clerk's page showed
    the member (the form's ``seen``: when the count it showed was made, "" for
    none), with another number: saved twice, the same number loses nothing."""
    if shown is None or shown["counted"] == quantity:
        return False
    return form.get("seen", "") != shown["counted_at"]


def _next_to_count(uncounted: list[str], member: str) -> str:
    """Where the clerk goes on after counting ``member``: the next member still
    to count (of those the filter shows), or the progress line if none is left."""
    matches = _matching(search_text(request.args))
    key = _name_order(member)
    later = sorted(
        (name for name in uncounted if matches(name) and _name_order(name) > key),
        key=_name_order,
    )
    return anchor(later[0]) if later else "progress"


# Reviewing, committing, cancelling -------------------------------------------


def _review_page(
    stocktake_id: int, status: int = 200, errors: dict[str, str] | None = None
) -> Any:
    report = stocktake_reports.stocktake_report(stocktake_id, _only())
    page = render_template(
        "moves/review.html",
        stocktake=report,
        counts=sorted(report["counts"], key=lambda c: _name_order(c["member"])),
        uncounted=sorted(report["uncounted"], key=_name_order),
        choices=UNCOUNTED_CHOICES,
        chosen=request.form.get("uncounted", "leave") if errors else "leave",
        errors=errors or {},
    )
    return page, status


@bp.get(f"{_ONE}/review")
@requires("read", page=True)
def review_page(stocktake_id: int) -> Any:
    """Each count against the stock, and (while open) commit or cancel."""
    return _review_page(stocktake_id)


@bp.post(f"{_ONE}/commit")
@requires("write", page=True)
def commit(stocktake_id: int) -> Any:
    """Make the counts the stock, once the clerk says the variances are checked."""
    uncounted = request.form.get("uncounted", "")
    errors = {}
    if uncounted not in UNCOUNTED_CHOICES:
        errors["uncounted"] = "must be chosen: leave them, or set them to 0"
    if request.form.get("checked") != "yes":
        errors["checked"] = "Tick “I have checked the variances” to commit."
    if errors:
        return _review_page(stocktake_id, _INVALID, errors)
    try:
        done = stocktakes.commit_stocktake(
            stocktake_id, uncounted=uncounted, by=actor(), only=_only()
        )
    except Problem as problem:
        if problem.status != 409:
            raise
        return _review_page(stocktake_id, _CONFLICT, {"form": problem.detail})
    zeroed = " and the members nobody counted set to 0" if uncounted == "zero" else ""
    flash(
        f"Stocktake {stocktake_id} of {done['collection']} committed: the stock is"
        f" now what was counted{zeroed}.",
        "success",
    )
    return redirect(url_for(".review_page", stocktake_id=stocktake_id), 303)


@bp.get(f"{_ONE}/cancel")
@requires("write", page=True)
def confirm_cancel(stocktake_id: int) -> Any:
    """Ask to confirm throwing a stocktake's counts away."""
    return _cancel_page(stocktake_id)


def _cancel_page(stocktake_id: int, status: int = 200, error: str | None = None) -> Any:
    report = stocktake_reports.stocktake_report(stocktake_id, _only())
    page = render_template("moves/cancel.html", stocktake=report, error=error)
    return page, status


@bp.post(f"{_ONE}/cancel")
@requires("write", page=True)
def cancel(stocktake_id: int) -> Any:
    """Cancel a stocktake: its counts are kept as a record, the stock untouched."""
    try:
        done = stocktakes.cancel_stocktake(stocktake_id, by=actor(), only=_only())
    except Problem as problem:
        if problem.error != stocktake_reports.STOCKTAKE_CLOSED:
            raise
        return _cancel_page(stocktake_id, _CONFLICT, problem.detail)
    flash(
        f"Stocktake {stocktake_id} of {done['collection']} cancelled: the stock was"
        " not changed.",
        "success",
    )
    return redirect(url_for(".review_page", stocktake_id=stocktake_id), 303)
