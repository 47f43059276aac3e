"""Member codes: what a code may be, and the codes stockapp makes.

A code is what a barcode on the shelf says: the GTIN printed on a product
(EAN-13, UPC-A, EAN-8, their check digit verified) or any other text a Code 128
label can carry (printable ASCII without spaces, up to MAX_CODE_LENGTH; no "/",
which, as in names, would route a URL elsewhere). A code
of 8, 12 or 13 digits is read as a GTIN, so its check digit must be right.

The codes stockapp makes are EAN-13s of prefix 20–29, which GS1 keeps for use
inside a company: they never name a product of anyone else, and every scanner
reads them.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from ..core.rules import MAX_CODE_LENGTH, ValidationError

# Printable ASCII without the space and "/": what a Code 128 label carries and
# a URL path segment can hold once percent-encoded.
CODE_PATTERN = "^[!-.0-~]+$"
_CODE = re.compile(rf"[!-.0-~]{{1,{MAX_CODE_LENGTH}}}")
_DIGITS = re.compile(r"[0-9]+")
GTINS = {8: "EAN-8", 12: "UPC-A", 13: "EAN-13"}
# The first two digits of the codes stockapp makes (GS1: restricted
# circulation numbers, for use inside a company).
MADE_PREFIX = "20"


def check_digit(digits: str) -> int:
    """The GTIN check digit of ``digits`` (the code without its last digit):
    from the right, weights 3, 1, 3, …; the digit that makes the sum a
    multiple of ten."""
    total = sum(
        int(digit) * (3 if position % 2 == 0 else 1)
        for position, digit in enumerate(reversed(digits))
    )
    return (10 - total % 10) % 10


def code_problem(code: str) -> str | None:
    """Why ``code`` cannot be a member's code, or None."""
    if not _CODE.fullmatch(code):
        return (
            f"must be 1 to {MAX_CODE_LENGTH} printable ASCII characters, without"
            " spaces or '/'"
        )
    kind = GTINS.get(len(code)) if _DIGITS.fullmatch(code) else None
    if kind is not None:
        expected = check_digit(code[:-1])
        if int(code[-1]) != expected:
            return (
                f"is not a valid {kind}: its check digit is {code[-1]}, it should be"
                f" {expected}"
            )
    return None


def code_body(body: Any) -> str | None:
    """Check a code body: a JSON string, or null (no code)."""
    if body is None:
        return None
    if not isinstance(body, str):
        raise ValidationError({"code": "must be a string or null"})
    if why := code_problem(body):
        raise ValidationError({"code": why})
    return body


def form_code(text: str, field: str = "code") -> str | None:
    """A form's code: the text, or None (clear it) when left empty."""
    code = text.strip()
    if not code:
        return None
    if why := code_problem(code):
        raise ValidationError({field: why})
    return code


def made_code() -> str:
    """A new random EAN-13 of stockapp's own (prefix MADE_PREFIX)."""
    body = MADE_PREFIX + "".join(str(secrets.randbelow(10)) for _ in range(10))
    return body + str(check_digit(body))
