"""Scan to find: a code, scanned or typed, opens its member's page.

A hardware scanner types the code and presses Enter into the page's one field,
as a person typing it does; the form is a plain GET, so it works without
script. One member carries the code: its page, ready to adjust. Several (one
per collection): a list of them. None: said, with the field to try again.

A label's QR code holds its member page's address rather than a code: the
phone's camera (static/scan.js) and a 2D hardware scanner put that address in
the field, and a link to a member's page on this site opens that page (any
other link is refused, said beside the field). The camera's script only fills
the field and sends the form, so both ways meet here.

The member's page opened by a scan carries SCANNED_FLAG in its query, so its
Amount field takes the focus: ready to take or add what is in hand.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from ..access.identity import current_identity
from ..access.permissions import requires
from . import reads
from .codes import code_problem

bp = Blueprint("scan_pages", __name__, template_folder="templates")

# In a member page's query: it was opened by a scan (its Amount field focused).
SCANNED_FLAG = "scanned"
_MEMBER_PAGE = "collection_pages.member"
NOT_A_MEMBER_LINK = "is a link, but not to a member's page on this site"


def scanned_member_page(collection: str, member: str) -> str:
    """The member's page as a scan opens it: ready to adjust."""
    return url_for(
        _MEMBER_PAGE, collection=collection, member=member, **{SCANNED_FLAG: 1}
    )


def linked_member(link: str) -> dict[str, str] | None:
    """The collection and member whose page on this site ``link`` (an absolute
    URL, as a label's QR code holds) opens, or None if it opens no member's."""
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return None
    path = unquote(parts.path)
    root = request.script_root
    if not path.startswith(f"{root}/"):
        return None
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        endpoint, names = adapter.match(path[len(root) :], method="GET")
    except HTTPException:
        return None
    return names if endpoint == _MEMBER_PAGE else None


@bp.get("/scan")
@requires("read", page=True)
def scan() -> Any:
    """The scan form; with ``?code=``, the member (or members) carrying it."""
    code = request.args.get("code")
    if code is None:
        return render_template("stock/scan.html", code="", errors={}, found=None)
    code = code.strip()
    if "://" in code:  # a link, as a QR code holds (a code holds no "/")
        if (names := linked_member(code)) is not None:
            return redirect(scanned_member_page(**names), 303)
        why = NOT_A_MEMBER_LINK
    else:
        why = code_problem(code)
    if why:
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
        return redirect(scanned_member_page(one.collection, one.member), 303)
    page = render_template(
        "stock/scan.html",
        code=code,
        errors={},
        found=found,
        member_page=scanned_member_page,
    )
    return page, (200 if found else 404)
