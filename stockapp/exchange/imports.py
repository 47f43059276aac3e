"""Importing stock: ``POST /imports`` and ``flask stock import``.

A CSV file (``collection,member,quantity,code``, as ``/export.csv`` writes it,
or without the ``code`` column, as files from before codes are) or a JSON
document (the ``GET /stock`` shape, where a member may also be an object
``{"quantity": 5, "code": "..."}``) sets the quantities it lists, and the codes
when it carries them (an empty cell or a null: no code):
``mode=merge`` keeps every other member, ``mode=replace`` makes each collection
it names hold exactly its rows. All or nothing: one bad row (bad name or
quantity, a row given twice, wrong columns, bad encoding) refuses the whole
import with every bad row and its line, and stores nothing. ``dry_run=true``
says what would change. Each change is a movement of kind "import".

The API takes bodies up to ``IMPORT_MAX_BYTES``; a larger file goes through the
CLI, which has no limit.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import click
from flask import request

from ..access.identity import actor
from ..access.permissions import refuse_unseen_collection, requires
from ..core.api_doc import Schema, documented, media, operation_responses, ref
from ..core.api_document import api_blueprint
from ..core.errors import Problem
from ..core.guards import allows_body_up_to, request_body
from ..core.page_formats import counted
from ..core.rules import (
    MAX_PROBLEMS_LISTED,
    MAX_QUANTITY,
    MalformedJSON,
    ValidationError,
    name_problem,
    parse_json,
    quantity_problem,
)
from ..stock import units
from ..stock.codes import code_problem
from .exports import CSV_HEADER, CSV_HEADER_WITHOUT_CODES, stock_cli

bp = api_blueprint("imports", __name__)

INVALID_IMPORT = "Invalid import"

MODES = ("merge", "replace")
# A refusal lists at most this many bad rows (and says how many more there are).
MAX_PROBLEMS_SHOWN = MAX_PROBLEMS_LISTED
_QUANTITY = re.compile(r"[0-9]{1,19}")
_QUANTITY_RULE = f"must be a whole number from 0 to {MAX_QUANTITY}"
# A bad value is quoted up to this many characters (a cell may be megabytes).
MAX_QUOTED = 40
Imported = dict[str, dict[str, int]]
# Each member's code, by collection then member (None: none), in a file with codes.
ImportedCodes = dict[str, dict[str, str | None]]


class ImportFile(NamedTuple):
    """What a file lists: quantities, and codes (empty for a file without)."""

    stock: Imported
    codes: ImportedCodes


class _Seen:
    """What the rows so far gave, to refuse a member or a code given twice."""

    def __init__(self) -> None:
        self.members: dict[tuple[str, str], int | None] = {}
        self.codes: dict[tuple[str, str], tuple[int | None, str]] = {}

    def repeats(
        self,
        line: int | None,
        collection: str,
        member: str,
        code: str | None,
        *,
        record: bool,
    ) -> list[str]:
        """Why the row repeats an earlier one; none, and ``record``: it is
        recorded."""
        why = []
        if (collection, member) in self.members:
            earlier = self.members[(collection, member)]
            why.append(f"{member} in {collection} repeats {_where(earlier)}")
        if code is not None and (collection, code) in self.codes:
            earlier, holder = self.codes[(collection, code)]
            why.append(
                f'code "{code}" for {member} in {collection} is {holder}\'s'
                f" ({_where(earlier)}): a code names one member"
            )
        if record and not why:
            self.members[(collection, member)] = line
            if code is not None:
                self.codes[(collection, code)] = (line, member)
        return why


def _where(line: int | None) -> str:
    return "an earlier entry" if line is None else f"line {line}"


class ImportRefused(Exception):
    """The file has bad rows: each as {"line" (None in JSON), "error"}."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(problems)
        self.problems = problems


def parse_csv(raw: bytes) -> ImportFile:
    """The stock a CSV file lists, or ImportRefused naming every bad row."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ImportRefused(
            [{"line": line, "error": f"is not valid UTF-8 (byte {error.start})"}]
        ) from None
    # A byte-order mark (as spreadsheets write one) is not part of the header.
    # strict: a quote left open, or text after a closing quote, is an error.
    reader = csv.reader(
        io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True
    )
    problems: list[dict[str, Any]] = []
    found = ImportFile({}, {})
    seen = _Seen()
    columns = CSV_HEADER
    # The line a row starts on (a quoted field may hold line breaks).
    line = 1
    try:
        header = next(reader, None)
        if header is None:
            problems.append({"line": 1, "error": "is empty: the header is missing"})
        elif tuple(header) == CSV_HEADER_WITHOUT_CODES:
            columns = CSV_HEADER_WITHOUT_CODES
        elif tuple(header) != CSV_HEADER:
            header_rule = (
                f"must be the header {','.join(CSV_HEADER)} (or, without codes,"
                f" {','.join(CSV_HEADER_WITHOUT_CODES)})"
            )
            problems.append({"line": 1, "error": header_rule})
        line = reader.line_num + 1
        for row in reader:
            if row:  # (a blank line is no row)
                _check_row(row, columns, line, found, seen, problems)
            line = reader.line_num + 1
    except csv.Error as error:
        problems.append({"line": line, "error": f"is not valid CSV: {error}"})
    if problems:
        raise ImportRefused(problems)
    return found


def _check_row(
    row: list[str],
    columns: tuple[str, ...],
    line: int,
    found: ImportFile,
    seen: _Seen,
    problems: list[dict[str, Any]],
) -> None:
    if len(row) != len(columns):
        fields = ",".join(columns)
        error = f"has {len(row)} fields, not {len(columns)} ({fields})"
        problems.append({"line": line, "error": error})
        return
    collection, member, quantity = row[:3]
    code = (row[3] or None) if len(row) > 3 else None
    why = []
    if reason := name_problem(collection):
        why.append(f"collection {quoted(collection)} {reason}")
    if reason := name_problem(member):
        why.append(f"member {quoted(member)} in {collection} {reason}")
    if not _QUANTITY.fullmatch(quantity) or int(quantity) > MAX_QUANTITY:
        why.append(
            f"quantity {quoted(quantity)} for {member} in {collection} {_QUANTITY_RULE}"
        )
    if code is not None and (reason := code_problem(code)):
        why.append(f"code {quoted(code)} for {member} in {collection} {reason}")
    why += seen.repeats(line, collection, member, code, record=not why)
    if why:
        problems.append({"line": line, "error": "; ".join(why)})
        return
    found.stock.setdefault(collection, {})[member] = int(quantity)
    if len(columns) > 3:
        found.codes.setdefault(collection, {})[member] = code


def parse_json_import(raw: bytes) -> ImportFile:
    """The stock a JSON document lists, or ImportRefused naming every bad entry."""
    try:
        document = parse_json(raw)
    except MalformedJSON as error:
        raise ImportRefused([{"line": None, "error": str(error)}]) from None
    if not isinstance(document, dict):
        raise ImportRefused(
            [{"line": None, "error": "must be a JSON object of collections"}]
        )
    problems = [
        {"line": None, "error": f"collection {key!r} appears more than once"}
        for key in getattr(document, "duplicates", ())
    ]
    found = ImportFile({}, {})
    seen = _Seen()
    for collection, members in document.items():
        if why := name_problem(collection):
            problems.append(
                {"line": None, "error": f"collection {quoted(collection)} {why}"}
            )
        if not isinstance(members, dict):
            problems.append(
                {"line": None, "error": f"{collection}: must be an object of members"}
            )
            continue
        for key in getattr(members, "duplicates", ()):
            problems.append(
                {"line": None, "error": f"{collection}: {key!r} appears more than once"}
            )
        found.stock.setdefault(collection, {})
        for member, entry in members.items():
            if why := _json_member_problem(collection, member, entry, seen):
                problems.append({"line": None, "error": why})
                continue
            quantity = entry["quantity"] if isinstance(entry, dict) else entry
            found.stock[collection][member] = quantity
            if isinstance(entry, dict) and "code" in entry:
                found.codes.setdefault(collection, {})[member] = entry["code"]
    if problems:
        raise ImportRefused(problems)
    return found


_MEMBER_KEYS = {"quantity", "code"}


def _json_member_problem(
    collection: str, member: str, entry: Any, seen: _Seen
) -> str | None:
    """Why a JSON document's member entry (a quantity, or an object of its
    quantity and code) cannot be imported, or None."""
    if why := name_problem(member):
        return f"member {quoted(member)} in {collection} {why}"
    code = None
    if isinstance(entry, dict):
        if "quantity" not in entry or not set(entry) <= _MEMBER_KEYS:
            return (
                f"{member} in {collection}: an object must have a quantity and may"
                " have a code, nothing else"
            )
        code = entry.get("code")
        if code is not None and not isinstance(code, str):
            return f"code for {member} in {collection} must be a string or null"
        if code is not None and (why := code_problem(code)):
            return f"code {quoted(code)} for {member} in {collection} {why}"
        entry = entry["quantity"]
    if why := quantity_problem(entry):
        shown = json.dumps(entry, ensure_ascii=False)
        if isinstance(entry, str):
            shown = quoted(entry)
        elif len(shown) > MAX_QUOTED:
            shown = shown[:MAX_QUOTED] + "…"
        return f"quantity {shown} for {member} in {collection} {why}"
    repeats = seen.repeats(None, collection, member, code, record=True)
    return "; ".join(repeats) or None


def quoted(value: str) -> str:
    """``value`` as a bad row's message shows it: in double quotes, cut after
    MAX_QUOTED characters, each character that does not print (a line break, a
    control character, a lone surrogate) and each quote and backslash escaped."""
    shown = "".join(
        char if char.isprintable() and char not in '"\\' else _escaped(char)
        for char in value[:MAX_QUOTED]
    )
    return f'"{shown}…"' if len(value) > MAX_QUOTED else f'"{shown}"'


def _escaped(char: str) -> str:
    return "\\" + char if char in '"\\' else repr(char)[1:-1]


def read_import(raw: bytes, file_format: str) -> ImportFile:
    """The stock a file of ``file_format`` (csv or json) lists, or ImportRefused."""
    return parse_csv(raw) if file_format == "csv" else parse_json_import(raw)


def summary(result: Mapping[str, Any]) -> str:
    """One sentence saying what an import did (or, dry, would do), from its
    ``report``."""
    totals = result["totals"]
    verb = "Would import" if result["dry_run"] else "Imported"
    return (
        f"{verb} {counted(len(result['collections']), 'collection')}"
        f" ({totals['created']} new): {counted(totals['added'], 'member')} added,"
        f" {totals['changed']} changed, {totals['unchanged']} unchanged,"
        f" {totals['removed']} removed{_codes_said(totals['codes'])}."
    )


def _codes_said(codes: int) -> str:
    """The summary's words for the codes a file set or cleared (none: none)."""
    return f"; {counted(codes, 'code')} set or cleared" if codes else ""


def options(values: Mapping[str, str]) -> tuple[bool, bool]:
    """``mode`` (is it replace?) and ``dry_run``, checked."""
    errors = {}
    mode = values.get("mode", "merge")
    if mode not in MODES:
        errors["mode"] = f"must be one of {', '.join(MODES)}"
    dry_run = values.get("dry_run", "false")
    if dry_run not in ("true", "false"):
        errors["dry_run"] = "must be true or false"
    if errors:
        raise ValidationError(errors)
    return mode == "replace", dry_run == "true"


def report(
    outcome: list[units.ImportedCollection], *, replace: bool, dry_run: bool
) -> dict[str, Any]:
    """What an import did or would do: its mode, totals and each collection's
    counts (and, when the dry run listed them, its ``changes``)."""
    collections = [entry._asdict() for entry in outcome]
    for entry in collections:
        if not entry["changes"]:
            del entry["changes"]
    totals = {
        key: sum(entry[key] for entry in collections)
        for key in ("added", "changed", "unchanged", "removed", "codes")
    }
    totals["created"] = sum(1 for entry in collections if entry["created"])
    return {
        "mode": "replace" if replace else "merge",
        "dry_run": dry_run,
        "totals": totals,
        "collections": collections,
    }


def import_as_caller(
    imported: ImportFile, *, replace: bool, dry_run: bool, listed: bool = False
) -> dict[str, Any]:
    """Import for this request's caller (a token limited to some collections
    may import only into those); the ``report`` (a dry run ``listed`` names
    each change)."""
    for collection in imported.stock:
        refuse_unseen_collection(collection, creates=True)
    outcome = units.import_stock(
        imported.stock,
        replace=replace,
        dry_run=dry_run,
        by=actor(),
        listed=listed,
        codes=imported.codes,
    )
    return report(outcome, replace=replace, dry_run=dry_run)


def shown_problems(problems: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The bad rows a refusal lists, and how many more there are."""
    shown = problems[:MAX_PROBLEMS_SHOWN]
    return shown, len(problems) - len(shown)


def uploaded_file(upload: Any, missing: str = "is required") -> tuple[bytes, str]:
    """The bytes and format (csv or json, by its name) of a form's file; a
    ValidationError for ``file`` when there is none (``missing``) or it is
    neither."""
    if upload is None or not upload.filename:
        raise ValidationError({"file": missing})
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ValidationError({"file": "must be a .csv or .json file"})
    return upload.read(), suffix[1:]


def _refusal(problems: list[dict[str, Any]]) -> Problem:
    shown, more = shown_problems(problems)
    detail = f"{len(problems)} bad row{'s' if len(problems) != 1 else ''}; nothing was"
    detail += " imported."
    return Problem(400, INVALID_IMPORT, detail, problems=shown, more_problems=more)


def _uploaded() -> tuple[bytes, str, Mapping[str, str]]:
    """The file's bytes, its format (csv or json), and the options' source."""
    if request.mimetype == "multipart/form-data":
        raw, file_format = uploaded_file(request.files.get("file"))
        return raw, file_format, {**request.args, **request.form}
    formats = {"text/csv": "csv", "application/json": "json"}
    if request.mimetype not in formats:
        raise Problem(
            415,
            "Unsupported media type",
            "Send text/csv, application/json or a multipart/form-data upload.",
        )
    return request_body(), formats[request.mimetype], request.args


# The operation's schemas, for the API document ----------------------------------


def _csv_schema() -> Schema:
    """The CSV an import takes, as far as a pattern can say (names of unquoted
    fields only; a name may also be quoted, and may not be only whitespace)."""
    name = '[^,"\\r\\n/\\x00-\\x1f\\x7f-\\x9f]{1,100}'
    row = f"\\r\\n{name},{name},[0-9]{{1,18}}"
    # The code, where the header names it (a pattern cannot tie the two).
    code = "(,[!#-+\\--.0-~]{0,48})?"
    return {
        "type": "string",
        "pattern": f"^{','.join(CSV_HEADER_WITHOUT_CODES)}(,code)?({row}{code})*"
        "(\\r\\n)?$",
    }


def _json_schema() -> Schema:
    """The JSON an import takes: the ``GET /stock`` document, where a member
    may also be an object of its quantity and code."""
    with_code = {
        "type": "object",
        "required": ["quantity"],
        "properties": {
            "quantity": ref("schemas", "Quantity"),
            "code": {"oneOf": [ref("schemas", "Code"), {"type": "null"}]},
        },
        "additionalProperties": False,
    }
    member = {"oneOf": [ref("schemas", "Quantity"), with_code]}
    return {
        "type": "object",
        "propertyNames": ref("schemas", "Name"),
        "additionalProperties": {
            "type": "object",
            "propertyNames": ref("schemas", "Name"),
            "additionalProperties": member,
        },
    }


def _report_schema() -> Schema:
    """The report an import answers with."""
    counts = {
        key: {"type": "integer", "minimum": 0}
        for key in ("added", "changed", "unchanged", "removed", "codes")
    }
    return {
        "type": "object",
        "required": ["mode", "dry_run", "totals", "collections"],
        "properties": {
            "mode": {"enum": list(MODES)},
            "dry_run": {"type": "boolean"},
            "totals": {
                "type": "object",
                "properties": {**counts, "created": {"type": "integer"}},
            },
            "collections": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "collection": ref("schemas", "Name"),
                        "created": {"type": "boolean"},
                        **counts,
                    },
                },
            },
        },
    }


_FLAG = {"type": "string", "enum": ["true", "false"], "default": "false"}


@bp.post("/imports")
@documented(
    "importStock",
    tag="operations",
    parameters=(
        {"name": "mode", "in": "query", "schema": {"enum": list(MODES)}},
        {"name": "dry_run", "in": "query", "schema": _FLAG},
    ),
    body={
        "required": True,
        "description": "CSV as `/export.csv` writes it, or the `GET /stock`"
        " document. (The web page's upload, a `multipart/form-data` `file`, is"
        " taken too.)",
        "content": {
            "text/csv": {"schema": _csv_schema()},
            **media(_json_schema()),
        },
    },
    responses=operation_responses(
        {"200": {"description": "What changed.", "content": media(_report_schema())}},
        names=False,
        body=True,
        # Bad rows: `problems` lists each with its line.
        bad_request=(INVALID_IMPORT,),
    ),
)
@requires("write")
@allows_body_up_to("IMPORT_MAX_BYTES")
def create_import() -> Any:
    """Import stock from CSV or JSON, all or nothing.

    `mode=merge` sets the listed quantities and keeps every other member;
    `mode=replace` makes each collection the file names hold exactly its rows.
    One bad row refuses the whole file (400, `problems` lists each with its
    line) and nothing is stored. Each change is a movement of kind `import`.
    """
    raw, file_format, form = _uploaded()
    replace, dry_run = options(form)
    try:
        imported = read_import(raw, file_format)
    except ImportRefused as refused:
        raise _refusal(refused.problems) from None
    return import_as_caller(imported, replace=replace, dry_run=dry_run)


@stock_cli.command("import")
@click.option("--mode", type=click.Choice(MODES), default="merge", show_default=True)
@click.option("--dry-run", is_flag=True, help="Only say what would change.")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "json"]),
    help="The file's format (by default, from its name).",
)
@click.argument("source", type=click.File("rb"))
def import_command(mode: str, dry_run: bool, file_format: str | None, source) -> None:
    """Import SOURCE (a file, or - for stdin): all or nothing, any size."""
    if file_format is None:
        file_format = "json" if str(source.name).endswith(".json") else "csv"
    raw = source.read()
    try:
        imported = read_import(raw, file_format)
    except ImportRefused as refused:
        for problem in refused.problems:
            where = "" if problem["line"] is None else f"line {problem['line']}: "
            click.echo(f"{where}{problem['error']}", err=True)
        raise click.ClickException(
            f"{len(refused.problems)} bad rows; nothing was imported."
        ) from None
    replace = mode == "replace"
    outcome = units.import_stock(
        imported.stock,
        replace=replace,
        dry_run=dry_run,
        by=None,
        codes=imported.codes,
    )
    click.echo(summary(report(outcome, replace=replace, dry_run=dry_run)))
