"""GET /stock/<collection>/<member>/label.svg: one member's label, and its
OpenAPI part.

The label is the one a sheet prints (drawing.py), at the default sheet's label
size, as a standalone SVG file: open it, print it, or place it in a document.
Whoever may read the member may have its label.
"""

from __future__ import annotations

from typing import Any

from flask import Response, url_for

from ..access.permissions import requires
from ..core.api_doc import documented, operation_responses
from ..core.api_document import api_blueprint
from ..core.errors import no_member
from ..core.rules import check_names
from ..stock import reads
from .drawing import label, label_document
from .sheets import DEFAULT_SHEET

bp = api_blueprint("labels", __name__)

SVG_MEDIA_TYPE = "image/svg+xml"


def member_url(collection: str, member: str) -> str:
    """The absolute URL of the member's page, which its label's QR code holds."""
    return url_for(
        "collection_pages.member", collection=collection, member=member, _external=True
    )


@bp.get("/stock/<collection>/<member>/label.svg")
@documented(
    "getMemberLabel",
    tag="inventory",
    responses=operation_responses(
        {
            "200": {
                "description": "The member's label, 70 × 37 mm: its name, its"
                " collection, its code as a barcode (EAN-13, UPC-A or EAN-8 when"
                " the code is one, else Code 128; none without a code) and a QR"
                " code of the member's page.",
                "content": {
                    SVG_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}
                },
            }
        },
        not_found=("Not found",),
    ),
)
@requires("read")
def member_label(collection: str, member: str) -> Any:
    """A member's label, as SVG."""
    check_names(collection=collection, member=member)
    found = reads.member_code(collection, member)
    if found is None:
        raise no_member(collection, member)
    drawn = label(
        member,
        collection,
        found[0],
        member_url(collection, member),
        DEFAULT_SHEET.label,
    )
    return Response(label_document(drawn), mimetype=SVG_MEDIA_TYPE)
