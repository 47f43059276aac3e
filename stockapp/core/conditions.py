"""Conditional requests (RFC 9110): strong ETags from version counters, 304 and 412."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, jsonify, request
from werkzeug.datastructures import ETags

from .errors import Problem
from .rules import ValidationError

JSON_MEDIA_TYPE = "application/json"
# An empty If-Match would match nothing and refuse every write with a 412 that
# hides the cause: usually a shell variable that was never set.
EMPTY_IF_MATCH = (
    "is empty: send the ETag you read, or * (an unset shell variable is the usual"
    " cause)"
)


def etag(version: int | str) -> str:
    """The strong entity tag, quoted, of a resource at ``version``."""
    return f'"{version}"'


def bare_integer(value: int) -> str:
    """An integer as a whole JSON document: it is its own JSON."""
    return f"{value}\n"


def is_not_modified(version: int | str) -> bool:
    """Whether a GET's ``If-None-Match`` names the current tag (so 304 applies)."""
    # If-None-Match uses the weak comparison: W/"7" matches "7". Werkzeug's
    # ETags hold the tags unquoted. (Most reads send none: skip parsing then.)
    if "HTTP_IF_NONE_MATCH" not in request.environ:
        return False
    return request.if_none_match.contains_weak(str(version))


def tagged(body: Any, version: int) -> Any:
    """A GET's answer: ``body`` as JSON with the resource's ETag, or 304 if the
    client has that version."""
    headers = {"ETag": etag(version)}
    if is_not_modified(version):
        return "", 304, headers
    if type(body) is int:
        # A bare integer is its own JSON: the hottest read skips the encoder.
        return Response(bare_integer(body), 200, headers, mimetype=JSON_MEDIA_TYPE)
    return jsonify(body), 200, headers


@dataclass(frozen=True)
class Precondition:
    """A write's ``If-Match`` / ``If-None-Match``, checked against the stored tag."""

    if_match: ETags | None = None
    if_none_match: ETags | None = None

    @classmethod
    def from_request(cls) -> Precondition:
        """The request's preconditions; 400 for an ``If-Match`` with no tag."""
        if "If-Match" in request.headers and not request.headers["If-Match"].strip():
            raise ValidationError({"If-Match": EMPTY_IF_MATCH})
        return cls(
            request.if_match if "If-Match" in request.headers else None,
            request.if_none_match if "If-None-Match" in request.headers else None,
        )

    @property
    def checks_nothing(self) -> bool:
        """Whether every version (and absence) meets it: no header was given."""
        return self.if_match is None and self.if_none_match is None

    def check(self, version: int | None) -> None:
        """Raise 412 unless the resource at ``version`` (None: absent) may change."""
        current = None if version is None else str(version)
        if self.if_match is not None and not (
            current is not None
            and (self.if_match.star_tag or self.if_match.contains(current))
        ):
            raise _failed("If-Match", current)
        if self.if_none_match is not None and (
            current is not None
            and (
                self.if_none_match.star_tag or self.if_none_match.contains_weak(current)
            )
        ):
            raise _failed("If-None-Match", current)


def _failed(header: str, current: str | None) -> Problem:
    state = "does not exist" if current is None else f'has ETag "{current}"'
    return Problem(
        412,
        "Precondition failed",
        f"{header} does not hold: the resource {state}; nothing was changed.",
    )
