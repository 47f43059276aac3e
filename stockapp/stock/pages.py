"""The collection page: its members sorted and paged, and every edit a clerk makes.

Each edit is a plain form posted to its own URL and written by the same unit of
work as the JSON API (units.py). A set (of a quantity or a reorder level)
carries the version the page showed, sent as ``If-Match``: if someone changed
the member meanwhile, nothing is written and the clerk is told who did and
what it holds now. An adjustment carries none: adding or taking is right
whatever the member holds (the database refuses going below zero).

Posted by htmx (``HX-Request``), the answer is the member's row alone, with
the outcome beside it and in the page's live region: the clerk stays where
they were. Without script, a success redirects back to the page
(post/redirect/get) with a flashed message, and so does a refusal: the page
then shows the form again with the error beside the field (refusals.py), and
reloading it posts nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import ETags

from ..access.identity import actor
from ..access.permissions import requires
from ..core.conditions import Precondition
from ..core.errors import Problem, no_member, not_found
from ..core.rules import (
    MAX_QUANTITY,
    ValidationError,
    check_names,
    form_amount,
    form_fields,
    form_level,
    form_name,
    form_quantity,
    form_reason,
    form_version,
)
from ..history.reads import last_movement_by, movements_page
from . import listings, refusals, units
from .codes import form_code
from .listings import PAGE_SIZES
from .scan import SCANNED_FLAG

bp = Blueprint("collection_pages", __name__, template_folder="templates")

_MEMBER = "/collections/<collection>/members/<member>"
# The query string that says which page of members is shown, kept across edits.
_LISTING_ARGS = ("sort", "cursor", "q", "size")
# Answers to a form that could not be carried out.
_INVALID, _CONFLICT = 400, 409


class FailedForm(NamedTuple):
    """A form of the page that was refused, shown again with why."""

    # The member whose row holds the form; None: the add-member form.
    member: str | None
    # Which of its forms: adjust, quantity, level, or add.
    form: str
    # Why, by field ("form": about the whole form).
    errors: dict[str, str]
    # Refused because someone changed the member meanwhile (its history is
    # linked beside the message).
    changed: bool = False
    # The member a refused add named, which exists already (linked beside the
    # message).
    existing: str | None = None


_NOTHING_FAILED = FailedForm(None, "", {})
# A member's own page posts its forms with this field, to come back to it.
_FROM_FIELD, _FROM_MEMBER_PAGE = "from", "member"
# How many of its latest movements a member's page shows.
RECENT_MOVEMENTS = 10
# The field a row's forms post their row's number in.
_ROW_FIELD = "row"
# The labels of the row's fields, there and in what the live region says.
FIELD_LABELS = {
    "amount": "Amount",
    "reason": "Reason",
    "qty": "New quantity",
    "level": "Reorder level",
    "code": "Code",
    "version": "This form's version",
}


def listing_args() -> dict[str, str]:
    """The sort, cursor, search and size of the page of members being shown."""
    return {key: request.args[key] for key in _LISTING_ARGS if key in request.args}


def _if_match(version: int) -> Precondition:
    return Precondition(if_match=ETags([str(version)]))


def _back_to(collection: str, row: int | None = None) -> Any:
    """Post/redirect/get: back to the page of members the form was on, and
    to the form's row by its anchor."""
    anchor = None if row is None else f"member-{row}"
    url = url_for(
        ".collection", collection=collection, _anchor=anchor, **listing_args()
    )
    return redirect(url, 303)


@bp.get("/collections/<collection>")
@requires("read", page=True)
def collection(collection: str) -> Any:
    """A collection's members, sorted by name or quantity, a page at a time."""
    check_names(collection=collection)
    return _collection_page(collection)


def _collection_page(collection: str) -> Any:
    """The page of members, and a form refused just before, with why."""
    failed, form = _refusal_kept(["collection", collection])
    listing = listings.member_listing(request.args)
    text = listings.search_text(request.args)
    page = listings.members_page(collection, listing, text)
    if page is None:
        raise not_found(f'collection "{collection}"')
    shown = {member.name for member in page.members}
    return render_template(
        "stock/collection.html",
        collection=collection,
        page=page,
        sort=listing.sort,
        size=listing.size,
        query=text,
        sorts=listings.MEMBER_SORTS,
        sizes=PAGE_SIZES,
        listing=listing_args(),
        failed=failed,
        # A refused member that is not on this page is spoken of on top.
        failed_elsewhere=failed.member is not None and failed.member not in shown,
        form=form,
        field_labels=FIELD_LABELS,
        refused_page=failed.member is not None,
    )


@bp.get(_MEMBER)
@requires("read", page=True)
def member(collection: str, member: str) -> Any:
    """One member: what it holds, its edits, and its latest movements."""
    check_names(collection=collection, member=member)
    return _member_page(collection, member)


def _member_page(collection: str, member: str) -> Any:
    """The member's page, and a form refused just before, with why."""
    failed, form = _refusal_kept(["member", collection, member])
    current = listings.member_details(collection, member)
    if current is None:
        raise no_member(collection, member)
    recent, older = movements_page(collection, member, RECENT_MOVEMENTS, None)
    return render_template(
        "stock/member.html",
        collection=collection,
        member=current,
        movements=recent,
        more_history=older is not None,
        failed=failed,
        form=form,
        field_labels=FIELD_LABELS,
        # Opened by a scan: its Amount field takes the focus.
        scanned=SCANNED_FLAG in request.args,
    )


def _refusal_kept(page: list[str]) -> tuple[FailedForm, Mapping[str, str]]:
    """The form refused just before on ``page`` (kept across the redirect)
    and what was typed in it; nothing failed if none."""
    kept = refusals.take(page)
    if kept is None:
        return _NOTHING_FAILED, {}
    why, typed = kept
    return FailedForm(**why), typed


def _on_member_page() -> bool:
    """Whether the form was posted from the member's own page."""
    return request.form.get(_FROM_FIELD) == _FROM_MEMBER_PAGE


def _member_edit(
    collection: str, member: str, which: str, edit: Callable[[], str]
) -> Any:
    """Carry out ``edit`` (which returns the message to say) on a member; on a
    refusal show the form again with the reason beside it: in its row alone
    when htmx posted it, else in the whole page."""
    check_names(collection=collection, member=member)
    try:
        message = edit()
    except ValidationError as error:
        failed = FailedForm(member, which, error.errors)
        return _refused_form(collection, member, _INVALID, failed)
    except Problem as problem:
        if problem.status not in (409, 412):
            raise
        reason = _refusal(collection, member, problem)
        failed = FailedForm(
            member, which, {"form": reason}, changed=problem.status == 412
        )
        return _refused_form(collection, member, _CONFLICT, failed)
    if _in_place():
        return _member_row(collection, member, done=message)
    flash(message, "success")
    if _on_member_page():
        return redirect(url_for(".member", collection=collection, member=member), 303)
    return _back_to(collection, _row_number())


def _in_place() -> bool:
    """Whether htmx posted the form (it swaps the answer into the page)."""
    return request.headers.get("HX-Request") == "true"


def _refused_form(
    collection: str, member: str | None, status: int, failed: FailedForm
) -> Any:
    """The answer to a refused form: its row with why, in place (``status``);
    without script, back to the page that shows it with why (303)."""
    if _in_place() and member is not None:
        return _member_row(collection, member, failed=failed, status=status)
    if member is not None and _on_member_page():
        refusals.keep(["member", collection, member], failed._asdict(), request.form)
        page = url_for(".member", collection=collection, member=member)
        return redirect(page, 303)
    refusals.keep(["collection", collection], failed._asdict(), request.form)
    # No anchor: a page opened at one does not honour autofocus, and the
    # refused field's autofocus is what brings its row into view.
    return _back_to(collection)


def _member_row(
    collection: str,
    member: str,
    *,
    done: str | None = None,
    failed: FailedForm = _NOTHING_FAILED,
    status: int = 200,
) -> Any:
    """The member's row as it is now, with ``done`` or why ``failed`` beside
    it, and the same words for the page's live region."""
    row = _row_number()
    current = listings.member_details(collection, member)
    said = done or failed.errors.get("form") or _first_error(failed.errors)
    page = render_template(
        "stock/member_row.html",
        collection=collection,
        name=member,
        member=current,
        row=row,
        listing=listing_args(),
        failed=failed,
        form=request.form,
        field_labels=FIELD_LABELS,
        refused_page=False,
        done=done,
        said=said,
        category="success" if done else "error",
    )
    return page, status


def _row_number() -> int:
    """The row the form was in (its fields' ids), as the form says; 1 when
    it says nothing usable."""
    given = request.form.get(_ROW_FIELD, "")
    if given.isascii() and given.isdigit() and 0 < int(given) <= max(PAGE_SIZES):
        return int(given)
    return 1


def _first_error(errors: dict[str, str]) -> str:
    """One refusal, worded whole, for the live region."""
    for field, error in errors.items():
        return f"{FIELD_LABELS.get(field, field)} {error}"
    return ""


def _refusal(collection: str, member: str, problem: Problem) -> str:
    """What to tell the clerk when a member edit was refused: what it holds
    now and, when someone changed it meanwhile, who."""
    current = listings.member_details(collection, member)
    if current is None:
        return f"{member} was removed meanwhile; nothing was changed."
    if problem.status == 412:
        # Who made the member's last change (its reorder level's too), as
        # the history says; the history is linked beside this.
        by = last_movement_by(collection, member)
        logged = "" if by is None else f" (the last change in its history is by {by})"
        return (
            f"{member} was changed meanwhile{logged}: it now holds"
            f" {_holding(current)}. Nothing was changed; check it and try again."
        )
    return problem.detail


def _holding(member: listings.MemberRow) -> str:
    if member.reorder_level is None:
        return str(member.quantity)
    return f"{member.quantity} (reorder level {member.reorder_level})"


@bp.post(f"{_MEMBER}/quantity")
@requires("write", page=True)
def set_quantity(collection: str, member: str) -> Any:
    """Set a member's quantity to the number typed."""

    def edit() -> str:
        quantity, reason, version = form_fields(
            (form_quantity, request.form.get("qty", ""), "qty"),
            (form_reason, request.form.get("reason", ""), "reason"),
            (form_version, request.form.get("version", ""), "version"),
        )
        units.put_member(
            collection,
            member,
            quantity,
            _if_match(version),
            by=actor(),
            reason=reason,
        )
        return f"{member} set to {quantity}."

    return _member_edit(collection, member, "quantity", edit)


@bp.post(f"{_MEMBER}/adjustments")
@requires("write", page=True)
def adjust(collection: str, member: str) -> Any:
    """Add to or take from a member's quantity, with a reason."""

    def edit() -> str:
        direction = request.form.get("direction")
        if direction not in ("add", "take"):
            raise ValidationError({"amount": "choose + to add or − to take"})
        amount, reason = form_fields(
            (form_amount, request.form.get("amount", ""), "amount"),
            (form_reason, request.form.get("reason", ""), "reason"),
        )
        delta = amount if direction == "add" else -amount
        try:
            # No If-Match: a delta is right whatever the member holds now.
            adjusted = units.adjust_member(
                collection, member, delta, reason, by=actor()
            )
        except Problem as problem:
            if problem.status != 409:
                raise
            refused = _refused(member, delta, problem)
            raise Problem(409, problem.error, refused) from None
        verb = "Added" if delta > 0 else "Took"
        preposition = "to" if delta > 0 else "from"
        return (
            f"{verb} {amount} {preposition} {member}: it now holds {adjusted.quantity}."
        )

    return _member_edit(collection, member, "adjust", edit)


def _refused(member: str, delta: int, problem: Problem) -> str:
    quantity = problem.extra["quantity"]
    if delta < 0:
        return (
            f"Cannot take {-delta} from {member}: it holds only {quantity}."
            " Nothing was changed."
        )
    return (
        f"Cannot add {delta} to {member}: it holds {quantity}, and at most"
        f" {MAX_QUANTITY} fits. Nothing was changed."
    )


@bp.post(f"{_MEMBER}/reorder-level")
@requires("write", page=True)
def set_reorder_level(collection: str, member: str) -> Any:
    """Set a member's reorder level, or clear it when the field is left empty."""

    def edit() -> str:
        level, version = form_fields(
            (form_level, request.form.get("level", ""), "level"),
            (form_version, request.form.get("version", ""), "version"),
        )
        units.set_reorder_level(
            collection, member, level, _if_match(version), by=actor()
        )
        if level is None:
            return f"Reorder level of {member} cleared."
        return f"Reorder level of {member} set to {level}."

    return _member_edit(collection, member, "level", edit)


@bp.post(f"{_MEMBER}/code")
@requires("write", page=True)
def set_code(collection: str, member: str) -> Any:
    """Set a member's code, clear it when the field is left empty, or have
    stockapp make one (the "Make a code" button)."""

    def edit() -> str:
        if request.form.get("make"):
            (version,) = form_fields(
                (form_version, request.form.get("version", ""), "version")
            )
            made, _ = units.make_code(
                collection, member, _if_match(version), by=actor()
            )
            return f"{member} now carries the code {made}."
        code, version = form_fields(
            (form_code, request.form.get("code", ""), "code"),
            (form_version, request.form.get("version", ""), "version"),
        )
        units.set_code(collection, member, code, _if_match(version), by=actor())
        if code is None:
            return f"Code of {member} cleared."
        return f"Code of {member} set to {code}."

    return _member_edit(collection, member, "code", edit)


@bp.post("/collections/<collection>/members")
@requires("write", page=True)
def add_member(collection: str) -> Any:
    """Add a new member to the collection; an existing one is left alone."""
    check_names(collection=collection)
    member = request.form.get("member", "")
    try:
        member, quantity = form_fields(
            (form_name, member, "member"),
            (form_quantity, request.form.get("qty", ""), "qty"),
        )
        # If-None-Match: * — only a member that does not exist yet.
        only_new = Precondition(if_none_match=ETags(star_tag=True))
        units.put_member(collection, member, quantity, only_new, by=actor())
    except ValidationError as error:
        failed = FailedForm(None, "add", error.errors)
        return _refused_form(collection, None, _INVALID, failed)
    except Problem as problem:
        if problem.status != 412:
            raise
        current = listings.member_details(collection, member)
        holding = "" if current is None else f" (it holds {_holding(current)})"
        errors = {"member": f"already exists in {collection}{holding}"}
        failed = FailedForm(None, "add", errors, existing=member)
        return _refused_form(collection, None, _CONFLICT, failed)
    flash(f"{member} added to {collection} with {quantity}.", "success")
    return _back_to(collection)


# Deleting, after a page that asks to confirm -----------------------------------


def _changed_before_deletion(name: str) -> str:
    """Why a confirmed deletion was not done: it no longer is what was shown."""
    return (
        f"{name} was changed by someone else meanwhile. Check what it holds now"
        " and confirm again."
    )


@bp.get(f"{_MEMBER}/delete")
@requires("write", page=True)
def confirm_member_deletion(collection: str, member: str) -> Any:
    """Ask to confirm deleting a member, showing what it holds."""
    check_names(collection=collection, member=member)
    return _member_deletion_page(collection, member)


def _member_deletion_page(
    collection: str, member: str, status: int = 200, error: str | None = None
) -> Any:
    current = listings.member_details(collection, member)
    if current is None:
        raise no_member(collection, member)
    page = render_template(
        "stock/delete_member.html",
        collection=collection,
        member=current,
        error=error,
        listing=listing_args(),
    )
    return page, status


@bp.post(f"{_MEMBER}/delete")
@requires("write", page=True)
def delete_member(collection: str, member: str) -> Any:
    """Delete a member, if it still is as the confirmation page showed it."""
    check_names(collection=collection, member=member)
    (version,) = form_fields((form_version, request.form.get("version", ""), "version"))
    try:
        units.delete_member(collection, member, _if_match(version), by=actor())
    except Problem as problem:
        if problem.status != 412:
            raise
        return _member_deletion_page(
            collection, member, _CONFLICT, _changed_before_deletion(member)
        )
    flash(f"{member} deleted from {collection}.", "success")
    return _back_to(collection)


# Deleting a whole collection, members and all, is an admin's: a clerk's slip
# (or a stolen clerk's session) costs a member at most.


@bp.get("/collections/<collection>/delete")
@requires("admin", page=True)
def confirm_collection_deletion(collection: str) -> Any:
    """Ask to confirm deleting a collection by typing its name."""
    check_names(collection=collection)
    return _collection_deletion_page(collection)


def _collection_deletion_page(
    collection: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: str = "",
) -> Any:
    """The confirmation; ``typed``: what was typed in it before (kept when
    it was not the name, to be corrected rather than typed again)."""
    summary = listings.collection_summary(collection)
    if summary is None:
        raise not_found(f'collection "{collection}"')
    page = render_template(
        "stock/delete_collection.html",
        summary=summary,
        errors=errors or {},
        typed=typed,
    )
    return page, status


@bp.post("/collections/<collection>/delete")
@requires("admin", page=True)
def delete_collection(collection: str) -> Any:
    """Delete a collection and its members, once its name is typed to confirm."""
    check_names(collection=collection)
    (version,) = form_fields((form_version, request.form.get("version", ""), "version"))
    typed = request.form.get("confirm", "")
    if typed != collection:
        errors = {"confirm": f"must be {collection}, typed exactly, to delete it"}
        return _collection_deletion_page(collection, _INVALID, errors, typed)
    try:
        units.delete_collection(collection, _if_match(version), by=actor())
    except Problem as problem:
        if problem.status != 412:
            raise
        errors = {"form": _changed_before_deletion(collection)}
        return _collection_deletion_page(collection, _CONFLICT, errors)
    flash(f"Collection {collection} deleted.", "success")
    return redirect(url_for("pages.index"), 303)
