"""The import page: upload a CSV or JSON file, see what it would change, import;
and the stock's download for a logged-in browser (the API takes tokens only).

The same reading and unit of work as ``POST /imports`` (``imports.py``, and
``stock/units.py`` beneath it).
A refused file is shown again with every bad row and its line; a dry run keeps
the file as a draft (``drafts.py``) and goes to its preview, which lists each
change a page at a time and offers "Import these changes"; an import redirects
back with what it did.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from ..access.permissions import requires
from ..core.errors import Problem
from ..core.guards import allows_body_up_to
from ..core.rules import ValidationError
from ..stock.units import MAX_REMOVALS_LISTED
from .drafts import draft_of, import_draft, save_draft
from .exports import export_response
from .imports import (
    ImportRefused,
    import_as_caller,
    options,
    read_import,
    shown_problems,
    summary,
    uploaded_file,
)

bp = Blueprint("import_pages", __name__, template_folder="templates")

# A preview lists this many changes a page.
CHANGES_PER_PAGE = 100


def _page(status: int = 200, **shown: Any) -> Any:
    shown.setdefault("errors", {})
    limit = current_app.config["IMPORT_MAX_BYTES"]
    page = render_template(
        "exchange/import.html", limit_mib=limit / 2**20, form=request.form, **shown
    )
    return page, status


@bp.get("/import")
@requires("write", page=True)
def import_form() -> Any:
    """The form that uploads a file to import."""
    return _page()


@bp.get("/download/stock.csv")
@requires("read", page=True)
def download_csv() -> Any:
    """The stock as CSV for the logged-in browser: safe to open in a spreadsheet
    (``?spreadsheet_safe=0`` for the exact file an import takes back)."""
    return export_response("csv", safe_by_default=True)


@bp.get("/download/stock.json")
@requires("read", page=True)
def download_json() -> Any:
    """The stock as JSON for the logged-in browser."""
    return export_response("json")


@bp.post("/import")
@requires("write", page=True)
@allows_body_up_to("IMPORT_MAX_BYTES")
def submit_import() -> Any:
    """Import the uploaded file (or, dry, say what it would change)."""
    try:
        replace, dry_run = options(
            {
                "mode": request.form.get("mode", "merge"),
                "dry_run": "true" if request.form.get("dry_run") else "false",
            }
        )
        raw, file_format = uploaded_file(
            request.files.get("file"), "is required: choose a .csv or .json file"
        )
        imported = read_import(raw, file_format)
    except ValidationError as error:
        return _page(400, errors=error.errors)
    except ImportRefused as refused:
        problems, more = shown_problems(refused.problems)
        return _page(400, problems=problems, more=more)
    if dry_run:
        mode = "replace" if replace else "merge"
        token = save_draft(raw, file_format, mode)
        return redirect(url_for(".preview_draft", token=token), 303)
    result = import_as_caller(imported, replace=replace, dry_run=False)
    flash(summary(result), "success")
    return redirect(url_for(".import_form"), 303)


@bp.get("/import/drafts/<token>")
@requires("write", page=True)
def preview_draft(token: str) -> Any:
    """What the file a dry run kept would change now, a page of changes at a
    time (``?page=``), with the button that imports it."""
    draft = draft_of(token)
    result = import_as_caller(
        read_import(draft.content, draft.file_format),
        replace=draft.mode == "replace",
        dry_run=True,
        listed=True,
    )
    changes = [
        (entry["collection"], entry["created"], change)
        for entry in result["collections"]
        for change in entry.get("changes", ())
    ]
    pages = max(1, -(-len(changes) // CHANGES_PER_PAGE))
    number = request.args.get("page", 1, type=int)
    if not 1 <= number <= pages:
        raise Problem(
            404, "Not found", f"This preview has pages 1 to {pages}, not {number}."
        )
    start = (number - 1) * CHANGES_PER_PAGE
    shown = changes[start : start + CHANGES_PER_PAGE]
    return _page(
        draft=draft,
        result=result,
        said=summary(result),
        # This page's changes by collection: (name, is it new, its changes).
        groups=[
            (name, created, [change for *_, change in rows])
            for (name, created), rows in groupby(shown, key=lambda row: row[:2])
        ],
        first=start + 1,
        last=start + len(shown),
        listed=len(changes),
        unlisted=result["totals"]["removed"]
        - sum(1 for _, _, change in changes if change.after is None),
        number=number,
        pages=pages,
        max_removals=MAX_REMOVALS_LISTED,
    )


@bp.post("/import/drafts/<token>")
@requires("write", page=True)
def submit_draft(token: str) -> Any:
    """Import the file a dry run kept, as it was tried, and forget it."""
    try:
        result = import_draft(token)
    except ImportRefused as refused:
        problems, more = shown_problems(refused.problems)
        return _page(400, problems=problems, more=more)
    flash(summary(result), "success")
    return redirect(url_for(".import_form"), 303)
