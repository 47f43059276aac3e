"""The input rules: names, quantities and JSON bodies, checked without the database."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from typing import Any

MAX_NAME_LENGTH = 100
MAX_REASON_LENGTH = 200
# A member's code (stock/codes.py): the text of a barcode.
MAX_CODE_LENGTH = 48
MAX_QUANTITY = 2**63 - 1

# A JSON integer longer than this cannot be in range; parsing it is skipped so
# that a body of a million digits costs nothing (and dodges int()'s digit limit).
_MAX_INTEGER_DIGITS = len(str(MAX_QUANTITY)) + 1
_OUT_OF_RANGE = MAX_QUANTITY + 1
_FORM_QUANTITY = re.compile(r"[0-9]+")

QUANTITY_RULE = f"must be a JSON integer from 0 to {MAX_QUANTITY}"
DELTA_RULE = f"must be a non-zero JSON integer from -{MAX_QUANTITY} to {MAX_QUANTITY}"
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


# The URL path segments RFC 3986 removes: a resource so named cannot be reached.
_DOT_SEGMENTS = frozenset({".", ".."})


# A refusal lists at most this many problems, and counts the rest: a body of a
# million bad names is not answered with a million reasons.
MAX_PROBLEMS_LISTED = 100


class ValidationError(Exception):
    """Input broke a rule; ``errors`` maps each offending key to the reason.

    Keyword arguments become extra members of the 400's body (``index``: which
    operation of a batch).
    """

    def __init__(self, errors: dict[str, str], **extra: Any) -> None:
        super().__init__(errors)
        self.errors = errors
        self.extra = extra

    def listed(self) -> dict[str, str]:
        """The first ``MAX_PROBLEMS_LISTED`` problems, each key cut to a name's
        length (a key too long to be a name need not be echoed whole)."""
        items = list(self.errors.items())[:MAX_PROBLEMS_LISTED]
        return {_shortened(key): why for key, why in items}

    @property
    def unlisted(self) -> int:
        """How many problems ``listed`` leaves out."""
        return max(0, len(self.errors) - MAX_PROBLEMS_LISTED)

    @property
    def detail(self) -> str:
        """One line: the first problem, and how many more ``errors`` lists."""
        (key, why), *rest = self.errors.items()
        more = f" (and {len(rest)} more: see errors)" if rest else ""
        return f"{_shortened(key)}: {why}{more}"


def _shortened(key: str) -> str:
    return key if len(key) <= MAX_NAME_LENGTH + 1 else key[:MAX_NAME_LENGTH] + "…"


class MalformedJSON(Exception):
    """The body is not well-formed JSON; the message says where."""


def name_problem(name: str) -> str | None:
    """Return why ``name`` is not a valid collection or member name, or None."""
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        return f"must be 1 to {MAX_NAME_LENGTH} characters long"
    if name.isspace():
        return "must not be only whitespace"
    if "/" in name:
        return "must not contain '/'"
    if name in _DOT_SEGMENTS:
        return "must not be . or .. (clients drop such segments from a URL)"
    if name.isascii() and name.isprintable():
        return None  # the usual name: no control character, no surrogate
    if any(unicodedata.category(char) == "Cc" for char in name):
        return "must not contain control characters"
    if any(unicodedata.category(char) == "Cs" for char in name):
        return "must be valid Unicode (it contains a lone surrogate)"
    return None


def quantity_problem(value: Any) -> str | None:
    """Return why ``value`` is not a valid quantity, or None."""
    # bool is a subclass of int, but true and false are not quantities.
    if type(value) is not int or not 0 <= value <= MAX_QUANTITY:
        return QUANTITY_RULE
    return None


def check_names(**names: str) -> None:
    """Raise ValidationError naming each bad URL part (``collection``, ``member``)."""
    errors = {key: why for key, name in names.items() if (why := name_problem(name))}
    if errors:
        raise ValidationError(errors)


def parse_json(raw: bytes) -> Any:
    """Decode a request body as strict JSON, raising MalformedJSON on anything else.

    Strict means UTF-8 only, no NaN or Infinity, no key twice in one object, and
    no nesting deeper than Python can recurse.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedJSON(f"is not valid UTF-8 (byte {error.start})") from None
    try:
        return json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_reject_constant,
            parse_int=_parse_int,
        )
    except json.JSONDecodeError as error:
        raise MalformedJSON(f"is not valid JSON: {error}") from None
    except RecursionError:
        raise MalformedJSON("is nested too deeply") from None


def _parse_int(digits: str) -> int:
    if len(digits) > _MAX_INTEGER_DIGITS:
        return -_OUT_OF_RANGE if digits.startswith("-") else _OUT_OF_RANGE
    return int(digits)


def _reject_constant(constant: str) -> Any:
    raise MalformedJSON(f"is not valid JSON: {constant} is not a JSON number")


class _DuplicateKeys(dict):
    """An object that named some key more than once (only ever reported, never used)."""

    def __init__(self, pairs: list[tuple[str, Any]], duplicates: list[str]) -> None:
        super().__init__(pairs)
        self.duplicates = duplicates


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    counts = Counter(key for key, _ in pairs)
    # In body order: a set's order changes with each process's hash seed, and
    # so would the error message.
    duplicates = [key for key in result if counts[key] > 1]
    return _DuplicateKeys(pairs, duplicates)


def stock_body(body: Any, *, allow_null: bool) -> dict[str, int | None]:
    """Check a collection body ``{member: quantity}`` and return it.

    ``allow_null`` admits ``null`` values (merge-patch removal). Every bad key is
    reported at once.
    """
    if not isinstance(body, dict):
        raise ValidationError(
            {"body": "must be a JSON object of member name to quantity"}
        )
    errors: dict[str, str] = {}
    for key in getattr(body, "duplicates", ()):
        errors[key] = "appears more than once in the body"
    for name, quantity in body.items():
        if name in errors:
            continue
        if why := name_problem(name):
            errors[name] = f"is not a valid member name: it {why}"
        elif quantity is None and allow_null:
            continue
        elif why := quantity_problem(quantity):
            errors[name] = (
                why if quantity is not None else f"{why} (null only in PATCH)"
            )
    if errors:
        raise ValidationError(errors)
    return body


def quantity_body(body: Any) -> int:
    """Check a member body, a bare JSON integer, and return it."""
    if why := quantity_problem(body):
        raise ValidationError({"body": why})
    return body


def reorder_level_body(body: Any) -> int | None:
    """Check a reorder-level body, a bare JSON integer or null (no level)."""
    if body is None:
        return None
    return quantity_body(body)


def form_quantity(text: str, field: str = "qty", *, at_least: int = 0) -> int:
    """Parse a form's decimal whole number from ``at_least`` to MAX_QUANTITY,
    raising ValidationError keyed ``field``."""
    digits = text.strip()
    significant = digits.lstrip("0")
    if (
        not _FORM_QUANTITY.fullmatch(digits)
        or len(significant) > _MAX_INTEGER_DIGITS
        or not at_least <= int(significant or "0") <= MAX_QUANTITY
    ):
        raise ValidationError(
            {field: f"must be a whole number from {at_least} to {MAX_QUANTITY}"}
        )
    return int(significant or "0")


def form_amount(text: str, field: str = "amount") -> int:
    """A form's amount to add or take: a whole number of at least 1."""
    return form_quantity(text, field, at_least=1)


def form_level(text: str, field: str = "level") -> int | None:
    """A form's reorder level: a quantity, or None (clear it) when left empty."""
    return None if not text.strip() else form_quantity(text, field)


def form_reason(text: str, field: str = "reason") -> str | None:
    """A form's movement reason: the text, or None when left empty."""
    reason = text.strip()
    if not reason:
        return None
    if why := reason_problem(reason):
        raise ValidationError({field: why})
    return reason


def form_version(text: str, field: str = "version") -> int:
    """The version a page showed, sent back by its form (a hidden field)."""
    if not (text.isascii() and text.isdigit() and len(text) <= _MAX_INTEGER_DIGITS):
        raise ValidationError(
            {field: "is missing or damaged: reload the page and try again"}
        )
    return int(text)


def form_name(text: str, field: str) -> str:
    """A form's collection or member name, raising ValidationError keyed ``field``."""
    if not text:
        raise ValidationError({field: "is required"})
    if why := name_problem(text):
        raise ValidationError({field: why})
    return text


def collection_form(form: Mapping[str, str]) -> tuple[str, str, int]:
    """Check the add-collection form's fields and return (collection, member, qty)."""
    return form_fields(
        (form_name, form.get("collection", ""), "collection"),
        (form_name, form.get("member", ""), "member"),
        (form_quantity, form.get("qty", ""), "qty"),
    )


def form_fields(*checks: tuple[Any, str, str]) -> Any:
    """Run each (check, text, field) and return the values; if any fails, raise
    one ValidationError naming every failed field."""
    errors: dict[str, str] = {}
    values = []
    for check, text, field in checks:
        try:
            values.append(check(text, field))
        except ValidationError as error:
            errors.update(error.errors)
    if errors:
        raise ValidationError(errors)
    return tuple(values)


def field_errors(
    body: dict[str, Any], fields: tuple[str, ...], what: str
) -> dict[str, str]:
    """The keys of an object body given twice, or that are not among ``fields``
    (``what`` names the object, as in "an adjustment"), with why."""
    errors: dict[str, str] = {}
    for key in getattr(body, "duplicates", ()):
        errors[key] = "appears more than once in the body"
    # In body order (a set difference's order changes with the hash seed).
    for key in body:
        if key not in fields:
            errors.setdefault(key, f"is not a field of {what} ({', '.join(fields)})")
    return errors


def adjustment_body(body: Any) -> tuple[int, str | None]:
    """Check an adjustment ``{"delta": int, "reason": str}``; return both."""
    if not isinstance(body, dict):
        raise ValidationError({"body": "must be a JSON object with a delta"})
    errors = field_errors(body, ("delta", "reason"), "an adjustment")
    delta = body.get("delta")
    if "delta" not in body:
        errors["delta"] = "is required"
    elif type(delta) is not int or delta == 0 or abs(delta) > MAX_QUANTITY:
        errors.setdefault("delta", DELTA_RULE)
    reason = body.get("reason")
    if reason is not None and (why := reason_problem(reason)):
        errors.setdefault("reason", why)
    if errors:
        raise ValidationError(errors)
    return delta, reason


def reason_problem(reason: Any) -> str | None:
    """Return why ``reason`` is not a valid movement reason, or None."""
    if not isinstance(reason, str):
        return "must be a string"
    if len(reason) > MAX_REASON_LENGTH:
        return f"must be at most {MAX_REASON_LENGTH} characters long"
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in reason):
        return "must be valid Unicode without control characters"
    return None


def idempotency_key(value: str) -> str:
    """Check an ``Idempotency-Key`` header value and return it."""
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise ValidationError(
            {"Idempotency-Key": "must be 1 to 255 visible ASCII characters"}
        )
    return value
