"""Exporting the stock: ``GET /export.csv``, ``GET /export.json`` and
``flask stock export``, all streamed from one read so a million members never
sit in memory.

CSV is RFC 4180 (``collection,member,quantity,code``, CRLF line ends, fields
quoted where they must be; a member without a code has an empty one), UTF-8
without a byte-order mark; a collection with no members has no row. JSON is the
``GET /stock`` document, empty collections included: quantities only (it is the
document clients already read; the CSV is the file that carries codes).
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import click
from flask import Response, request
from flask.cli import AppGroup

from ..access.identity import current_identity
from ..access.permissions import refuse_unseen_collection, requires
from ..core.api_doc import Schema, documented, media, operation_responses, ref
from ..core.api_document import api_blueprint
from ..core.database import RowStream
from ..core.errors import not_found
from ..core.extensions import db
from ..core.rules import ValidationError, name_problem
from ..stock import reads
from ..stock.models import Collection, Member

bp = api_blueprint("exports", __name__)
stock_cli = AppGroup("stock", help="Export and import the stock.")

CSV_HEADER = ("collection", "member", "quantity", "code")
# The header of files from before members had codes: they still import.
CSV_HEADER_WITHOUT_CODES = CSV_HEADER[:3]
FORMATS = {"csv": "text/csv", "json": "application/json"}
# How many rows' text is gathered before it is sent or written.
_ROWS_PER_CHUNK = 2000
# What a spreadsheet takes for the start of a formula (OWASP's CSV injection
# list): such a name is written with a leading ' when the file is for people.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_SAFE_VALUES = {"1": True, "0": False}


def _rows(collection: str | None, only: frozenset[str] | None) -> RowStream:
    """(collection, member, quantity, code) of every member, in creation order."""
    query = (
        db.select(Collection.name, Member.name, Member.quantity, Member.code)
        .join(Member, Member.collection_id == Collection.id)
        .order_by(Collection.id, Member.id)
    )
    if collection is not None:
        query = query.where(Collection.name == collection)
    if only is not None:
        query = query.where(Collection.name.in_(sorted(only)))
    return RowStream(query, {})


def defused(name: str) -> str:
    """``name`` as a spreadsheet shows it rather than runs it."""
    return f"'{name}" if name.startswith(FORMULA_STARTS) else name


def csv_chunks(rows: RowStream, *, safe: bool = False) -> Iterator[str]:
    """The CSV text of ``rows``, header first, a few thousand rows at a time;
    ``safe``: names that start like a formula get a leading ' (not for import:
    the names then differ from the stored ones)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for count, (collection, member, quantity, code) in enumerate(rows, 1):
        code = code or ""
        if safe:
            collection, member, code = (
                defused(collection),
                defused(member),
                defused(code),
            )
        writer.writerow((collection, member, quantity, code))
        if count % _ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def export_chunks(
    export_format: str,
    collection: str | None,
    only: frozenset[str] | None,
    *,
    safe: bool = False,
) -> tuple[Iterator[str], RowStream]:
    """The export's text in pieces, and the stream to close once it is sent."""
    if export_format == "csv":
        rows = _rows(collection, only)
        return csv_chunks(rows, safe=safe), rows
    names = only if collection is None else frozenset({collection})
    objects = reads.stock_objects(names, 0, None)
    return reads.stock_json(objects), objects


def _collection_named(value: str | None) -> str | None:
    """The ``collection`` argument, checked (None: every collection)."""
    if value is None:
        return None
    if why := name_problem(value):
        raise ValidationError({"collection": why})
    return value


def _exists(collection: str) -> bool:
    found = db.session.execute(
        db.select(Collection.id).where(Collection.name == collection)
    ).first()
    db.session.rollback()
    return found is not None


def _is_safe(value: str | None) -> bool:
    """The ``spreadsheet_safe`` argument, checked (absent: off)."""
    if value is None:
        return False
    if value not in _SAFE_VALUES:
        raise ValidationError({"spreadsheet_safe": "must be 1 or 0"})
    return _SAFE_VALUES[value]


def export_response(export_format: str, *, safe_by_default: bool = False) -> Any:
    """The stock (or the ``collection`` asked for) as an attachment, streamed;
    CSV for a spreadsheet when ``spreadsheet_safe`` (or ``safe_by_default``) says."""
    asked = request.args.get("spreadsheet_safe")
    safe = export_format == "csv" and (
        _is_safe(asked) if asked is not None else safe_by_default
    )
    collection = _collection_named(request.args.get("collection"))
    if collection is not None:
        refuse_unseen_collection(collection, creates=False)
        if not _exists(collection):
            raise not_found(f'collection "{collection}"')
    chunks, rows = export_chunks(
        export_format, collection, current_identity().collections, safe=safe
    )
    filename = f"{collection or 'stock'}.{export_format}"
    response = Response(
        chunks,
        content_type=f"{FORMATS[export_format]}; charset=utf-8",
        headers={"Content-Disposition": _attachment(filename)},
    )
    response.call_on_close(rows.close)
    return response


def _attachment(filename: str) -> str:
    """A Content-Disposition naming ``filename`` (RFC 6266; any characters)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def _export_operation(name: str, content: Schema, *more_parameters: Schema) -> Any:
    """The declaration of an export route; the two differ in their content."""
    collection = {
        "name": "collection",
        "in": "query",
        "description": "Only this collection (404 if there is none).",
        "schema": ref("schemas", "Name"),
    }
    return documented(
        name,
        tag="operations",
        parameters=(collection, *more_parameters),
        responses=operation_responses(
            {
                "200": {
                    "description": "The export, as an attachment.",
                    "content": content,
                }
            },
            names=False,
            not_found=("Not found",),
            # A bad collection name in the query.
            extra={"400": ref("responses", "BadRequest")},
        ),
    )


_CSV = {
    "type": "string",
    "description": "RFC 4180: a `collection,member,quantity,code` header, then one"
    " row per member (an empty `code` when it has none), CRLF line ends.",
}


_SPREADSHEET_SAFE = {
    "name": "spreadsheet_safe",
    "in": "query",
    "description": "`1`: a name starting with `=`, `+`, `-`, `@`, a tab or a CR gets"
    " a leading `'`, so a spreadsheet shows it rather than runs it as a formula."
    " For people, not for import: such names then differ from the stored ones.",
    "schema": {"enum": list(_SAFE_VALUES), "default": "0"},
}


@bp.get("/export.csv")
@_export_operation("exportCsv", {"text/csv": {"schema": _CSV}}, _SPREADSHEET_SAFE)
@requires("read")
def export_csv() -> Any:
    """The stock as CSV.

    Streamed; a token limited to some collections gets only theirs.
    """
    return export_response("csv")


@bp.get("/export.json")
@_export_operation("exportJson", media(ref("schemas", "Stock")))
@requires("read")
def export_json() -> Any:
    """The stock as JSON.

    Streamed; a token limited to some collections gets only theirs.
    """
    return export_response("json")


@stock_cli.command("export")
@click.option(
    "--format",
    "export_format",
    type=click.Choice(sorted(FORMATS)),
    default="csv",
    show_default=True,
)
@click.option("--collection", help="Only this collection.")
@click.option(
    "--spreadsheet-safe",
    is_flag=True,
    help="Prefix names that start like a formula with ' (CSV for people, not"
    " for import).",
)
@click.argument("destination", type=click.Path(dir_okay=False, allow_dash=True))
def export_command(
    export_format: str,
    collection: str | None,
    spreadsheet_safe: bool,
    destination: str,
) -> None:
    """Write the stock (or one collection) to DESTINATION, a file or - for stdout."""
    if collection is not None:
        if why := name_problem(collection):
            raise click.BadParameter(why, param_hint="--collection")
        if not _exists(collection):
            raise click.ClickException(f'There is no collection "{collection}".')
    chunks, rows = export_chunks(export_format, collection, None, safe=spreadsheet_safe)
    try:
        if destination == "-":
            # As bytes: the CSV's CRLF must reach the pipe as it is.
            output = sys.stdout.buffer
            for chunk in chunks:
                output.write(chunk.encode())
            output.flush()
            return
        # newline="": the CSV's own CRLF line ends are written as they are.
        with open(destination, "w", encoding="utf-8", newline="") as file:
            for chunk in chunks:
                file.write(chunk)
    finally:
        rows.close()
