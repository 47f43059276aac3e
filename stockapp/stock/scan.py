"""Scan to find: a code, scanned or typed, opens its member's page.

A hardware scanner types the code and presses Enter into the page's one field,
as a person typing it does; the form is a plain GET, so it works without
script. One member carries the code: its page, ready to adjust. Several (one
per collection): a list of them. None: said, with the field to try again.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from ..access.identity import current_identity
from ..access.permissions import requires
from . import reads
from .codes import code_problem

bp = Blueprint("scan_pages", __name__, template_folder="templates")


@bp.get("/scan")
@requires("read", page=True)
def scan() -> Any:
    """The scan form; with ``?code=``, the member (or members) carrying it."""
    code = request.args.get("code")
    if code is None:
        return render_template("stock/scan.html", code="", errors={}, found=None)
    code = code.strip()
    if why := code_problem(code):
        page = render_template(
            "stock/scan.html", code=code, errors={"code": why}, found=None
        )
        return page, 400
    only = current_identity().collections
    found = [
        row
        for row in reads.members_with_code(code)
        if only is None or row.collection in only
    ]
    if len(found) == 1:
        (one,) = found
        page = url_for(
            "collection_pages.member", collection=one.collection, member=one.member
        )
        return redirect(page, 303)
    page = render_template("stock/scan.html", code=code, errors={}, found=found)
    return page, (200 if found else 404)
