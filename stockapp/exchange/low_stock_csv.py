"""The low-stock list as CSV for a logged-in browser: ``GET
/download/low-stock.csv``, beside the stock's own download.

RFC 4180 (``collection,member,quantity,reorder_level,shortfall``, CRLF line
ends), UTF-8 without a byte-order mark, streamed as it is read. For people, so
spreadsheet-safe always: a name that starts like a formula gets a leading '.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Blueprint, Response, request

from ..access.identity import current_identity
from ..access.permissions import requires
from ..stock import reads
from ..stock.reorder import refuse_unknown_collection
from .exports import _attachment, defused

bp = Blueprint("low_stock_pages", __name__)

LOW_STOCK_CSV_HEADER = (
    "collection",
    "member",
    "quantity",
    "reorder_level",
    "shortfall",
)
# How many rows' text is gathered before it is sent.
_ROWS_PER_CHUNK = 2000


@bp.get("/download/low-stock.csv")
@requires("read", page=True)
def download_low_stock() -> Any:
    """Every low member the caller sees, as CSV: in the order (``sort``) and
    for the ``collection`` the low-stock page takes, the whole list at once."""
    # The whole list: a page's limit and cursor are not the download's.
    args = {
        key: value
        for key, value in request.args.items()
        if key in ("sort", "collection")
    }
    listing = reads.low_stock_listing(args)
    refuse_unknown_collection(listing.collection)
    rows = reads.stream_low_members(current_identity().collections, listing)
    name = (
        "low-stock" if listing.collection is None else f"low-stock-{listing.collection}"
    )
    response = Response(
        low_stock_csv(rows),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": _attachment(f"{name}.csv")},
    )
    response.call_on_close(rows.close)
    return response


def low_stock_csv(rows: Iterable[Any]) -> Iterator[str]:
    """The CSV text of the low members ``rows`` (as reads.LowMember), header
    first, a few thousand rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(LOW_STOCK_CSV_HEADER)
    for count, row in enumerate(rows, 1):
        member = reads.LowMember(*row)
        writer.writerow(
            (
                defused(member.collection),
                defused(member.member),
                member.quantity,
                member.reorder_level,
                member.shortfall,
            )
        )
        if count % _ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
