"""The import page: upload a CSV or JSON file, see what it would change, import;
and the stock's download for a logged-in browser (the API takes tokens only).

The same reading and unit of work as ``POST /imports`` (``imports.py``, and
``stock/units.py`` beneath it).
A refused file is shown again with every bad row and its line; a dry run shows
what would change; an import redirects back with what it did.
"""

from __future__ import annotations

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
from ..core.guards import allows_body_up_to
from ..core.rules import ValidationError
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
    result = import_as_caller(imported, replace=replace, dry_run=dry_run)
    said = summary(result)
    if dry_run:
        return _page(result=result, said=said)
    flash(said, "success")
    return redirect(url_for(".import_form"), 303)
