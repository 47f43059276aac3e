"""The sheet page: labels for a whole collection or a selection of its members,
laid out for a sheet of labels, to print from the browser.

``GET /collections/<c>/labels?sheet=a4-3x8&member=a&member=b`` lays out the
members named (in that order; a name twice prints two labels), or without
``member`` the whole collection by name. Each printed page is one SVG the size
of the sheet's page, and ``/labels/sheets/<sheet>.css`` sets ``@page`` to that
size with no margins, so that Chromium's print (and ``page.pdf()``) puts every
label where the sheet has it. On a screen the pages are previews, with a form
to choose the sheet and a Print button; printed, only the pages are left.

At most MAX_LABELS labels a request: more is refused with a 400 page saying
so. A member name the collection does not hold is a 404, naming it: a label
is never silently left out.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from flask import Blueprint, Response, render_template, request
from markupsafe import Markup

from ..access.permissions import public, requires
from ..core.errors import Problem, not_found
from ..core.rules import ValidationError, check_names, name_problem
from . import reads
from .api import member_url
from .drawing import label, markup
from .sheets import DEFAULT_SHEET, MAX_LABELS, SHEETS, Sheet, page_style, printed_pages

bp = Blueprint("label_pages", __name__, template_folder="templates")

TOO_MANY_LABELS = "Too many labels"
_BAD_SHEET = f"must be one of {', '.join(SHEETS)}"


class PrintedPage(NamedTuple):
    """One page of the sheet, as the page shows it."""

    svg: Markup
    labels: int


def chosen_sheet(name: str | None) -> Sheet:
    """The sheet a query string names; the default when it names none."""
    if name is None:
        return DEFAULT_SHEET
    if name not in SHEETS:
        raise ValidationError({"sheet": _BAD_SHEET})
    return SHEETS[name]


def chosen_names(names: list[str]) -> list[str]:
    """The members a query string names, checked and within MAX_LABELS."""
    if len(names) > MAX_LABELS:
        raise _too_many(f"{len(names):,} are named")
    problems = {
        f"member {name!r}": why for name in names if (why := name_problem(name))
    }
    if problems:
        raise ValidationError(problems)
    return names


def _too_many(how_many: str) -> Problem:
    return Problem(
        400,
        TOO_MANY_LABELS,
        f"A sheet lays out at most {MAX_LABELS:,} labels, and {how_many}:"
        " choose the members to print (member=…), a few hundred at a time.",
    )


def labelled_members(collection: str, names: list[str]) -> list[reads.LabelledMember]:
    """The members to print: those named, or else the whole collection."""
    if names:
        return reads.named_members(collection, names)
    found = reads.collection_members(collection, MAX_LABELS + 1)
    if len(found) > MAX_LABELS:
        raise _too_many(f"{collection} has more")
    return found


@bp.get("/collections/<collection>/labels")
@requires("read", page=True)
def sheet(collection: str) -> Any:
    """A sheet of labels for the collection, or for the members named."""
    check_names(collection=collection)
    chosen = chosen_sheet(request.args.get("sheet"))
    names = chosen_names(request.args.getlist("member"))
    members = labelled_members(collection, names)
    drawn = [
        label(
            member.name,
            collection,
            member.code,
            member_url(collection, member.name),
            chosen.label,
        )
        for member in members
    ]
    pages = [
        PrintedPage(Markup(markup(page)), len(page))
        for page in printed_pages(chosen, drawn)
    ]
    return render_template(
        "labels/sheet.html",
        collection=collection,
        names=names,
        labels=len(members),
        sheet=chosen,
        sheets=SHEETS.values(),
        pages=pages,
    )


@bp.get("/labels/sheets/<sheet>.css")
@public
def page_size(sheet: str) -> Any:
    """The stylesheet that prints a sheet's pages at their size."""
    if sheet not in SHEETS:
        raise not_found(f'sheet "{sheet}"')
    return Response(page_style(SHEETS[sheet]), mimetype="text/css")
