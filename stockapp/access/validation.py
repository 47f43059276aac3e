"""The input rules of users and tokens, checked without the database."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from ..core.rules import ValidationError, field_errors, name_problem
from .models import MAX_LABEL_LENGTH
from .passwords import password_problem
from .scopes import ROLES, SCOPES, limits_collections

MAX_EXPIRY_DAYS = 3650
MAX_TOKEN_COLLECTIONS = 100
_TOKEN_FIELDS = ("label", "scope", "expires_in_days", "collections", "user")


@dataclass(frozen=True)
class TokenRequest:
    """A new token's settings, checked."""

    label: str
    scope: str
    expires_in_days: int | None = None
    collections: tuple[str, ...] | None = None
    # The owner's name; None: the caller.
    user: str | None = None


def label_problem(label: Any) -> str | None:
    """Return why ``label`` is not a valid token label, or None."""
    if not isinstance(label, str):
        return "must be a string"
    if not 1 <= len(label) <= MAX_LABEL_LENGTH or label.isspace():
        return f"must be 1 to {MAX_LABEL_LENGTH} characters, not only whitespace"
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in label):
        return "must be valid Unicode without control characters"
    return None


def scope_problem(scope: Any) -> str | None:
    if scope not in SCOPES:
        return f"must be one of {', '.join(SCOPES)}"
    return None


def unlimited_scope_problem(scope: Any, collections: Any) -> str | None:
    """Why ``collections`` cannot limit a token of ``scope``, or None: a
    standalone scope (metrics) is about no collection."""
    if collections is None or scope_problem(scope) or limits_collections(scope):
        return None
    return f'cannot limit a "{scope}" token, which is about no collection'


def role_problem(role: Any) -> str | None:
    if role not in ROLES:
        return f"must be one of {', '.join(ROLES)}"
    return None


def expiry_problem(days: Any) -> str | None:
    if days is not None and (type(days) is not int or not 1 <= days <= MAX_EXPIRY_DAYS):
        return f"must be a whole number of days from 1 to {MAX_EXPIRY_DAYS}, or null"
    return None


def collections_problem(collections: Any) -> str | None:
    if collections is None:
        return None
    if not isinstance(collections, list | tuple) or not (
        1 <= len(collections) <= MAX_TOKEN_COLLECTIONS
    ):
        return (
            f"must be a list of 1 to {MAX_TOKEN_COLLECTIONS} collection names,"
            " or null for every collection"
        )
    for name in collections:
        why = name_problem(name) if isinstance(name, str) else "must be a string"
        if why:
            return f"holds {name!r}, which {why}"
    if len(set(collections)) != len(collections):
        return "names a collection more than once"
    return None


def user_fields(name: str, role: str, password: str | None = None) -> None:
    """Check a new user's name, role and password; raise ValidationError."""
    errors = {}
    if why := name_problem(name):
        errors["name"] = why
    if why := role_problem(role):
        errors["role"] = why
    if password is not None and (why := password_problem(password)):
        errors["password"] = why
    if errors:
        raise ValidationError(errors)


def token_request(body: Any) -> TokenRequest:
    """Check a POST /tokens body and return it."""
    if not isinstance(body, dict):
        raise ValidationError({"body": "must be a JSON object with a label and scope"})
    errors = field_errors(body, _TOKEN_FIELDS, "a token")
    for key in ("label", "scope"):
        if key not in body:
            errors.setdefault(key, "is required")
    checks = {
        "label": label_problem,
        "scope": scope_problem,
        "expires_in_days": expiry_problem,
        "collections": collections_problem,
        "user": lambda user: None if user is None else name_problem_of(user),
    }
    for key, check in checks.items():
        if key in body and (why := check(body[key])):
            errors.setdefault(key, why)
    if why := unlimited_scope_problem(body.get("scope"), body.get("collections")):
        errors.setdefault("collections", why)
    if errors:
        raise ValidationError(errors)
    collections = body.get("collections")
    return TokenRequest(
        body["label"],
        body["scope"],
        body.get("expires_in_days"),
        None if collections is None else tuple(collections),
        body.get("user"),
    )


def name_problem_of(value: Any) -> str | None:
    """``name_problem`` for a value that may not even be a string."""
    return name_problem(value) if isinstance(value, str) else "must be a string"
