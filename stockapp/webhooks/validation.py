"""The input rules of subscriptions, checked without the database."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from ..access.validation import collections_problem
from ..core.rules import ValidationError, field_errors
from .models import EVENT_TYPES, MAX_DESCRIPTION_LENGTH
from .targets import url_problem

_CREATE_FIELDS = ("url", "events", "collections", "description", "ordered")
_UPDATE_FIELDS = (*_CREATE_FIELDS, "enabled")


@dataclass(frozen=True)
class SubscriptionFields:
    """A subscription's settings as a request gave them (None: not given)."""

    url: str | None = None
    events: tuple[str, ...] | None = None
    # The given collections; () for "every collection" (null in the body).
    collections: tuple[str, ...] | None = None
    description: str | None = None
    ordered: bool | None = None
    enabled: bool | None = None
    # Whether the body gave "description" (null clears it).
    sets_description: bool = False


def events_problem(events: Any) -> str | None:
    if (
        not isinstance(events, list)
        or not events
        or any(event not in EVENT_TYPES for event in events)
    ):
        return f"must be a list of one or more of {', '.join(EVENT_TYPES)}"
    if len(set(events)) != len(events):
        return "names an event more than once"
    return None


def description_problem(description: Any) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_LENGTH:
        return (
            f"must be a string of at most {MAX_DESCRIPTION_LENGTH} characters, or null"
        )
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in description):
        return "must be valid Unicode without control characters"
    return None


def _flag_problem(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def subscription_body(
    body: Any, *, allow_private: bool, new: bool
) -> SubscriptionFields:
    """Check a POST (``new``) or PATCH /webhooks body and return it."""
    if not isinstance(body, dict):
        raise ValidationError(
            {"body": "must be a JSON object with a url and events"}
            if new
            else {"body": "must be a JSON object of the fields to change"}
        )
    fields = _CREATE_FIELDS if new else _UPDATE_FIELDS
    errors = field_errors(body, fields, "a subscription")
    if new:
        for key in ("url", "events"):
            if key not in body:
                errors.setdefault(key, "is required")
    checks = {
        "url": lambda url: url_problem(url, allow_private=allow_private),
        "events": events_problem,
        "collections": collections_problem,
        "description": description_problem,
        "ordered": _flag_problem,
        "enabled": _flag_problem,
    }
    for key, check in checks.items():
        if key in body and key in fields and (why := check(body[key])):
            errors.setdefault(key, why)
    if errors:
        raise ValidationError(errors)
    events = body.get("events")
    collections = body.get("collections", ...)
    return SubscriptionFields(
        url=body.get("url"),
        events=None if events is None else tuple(events),
        collections=None
        if collections is ...
        else ()
        if collections is None
        else tuple(collections),
        description=body.get("description"),
        ordered=body.get("ordered"),
        enabled=body.get("enabled"),
        sets_description="description" in body,
    )
