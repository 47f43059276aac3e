"""Checks every request passes before it reaches a view."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from .api_doc import Schema, amend, problem_response
from .errors import Problem
from .rules import MalformedJSON, ValidationError, parse_json

F = TypeVar("F", bound=Callable[..., Any])


def _too_large(limit: int) -> RequestEntityTooLarge:
    return RequestEntityTooLarge(f"The body may be at most {limit} bytes.")


_BODY_LIMIT = "stockapp_body_limit"


def allows_body_up_to(setting: str) -> Callable[[F], F]:
    """The route takes bodies up to the setting ``setting`` (in bytes) rather
    than MAX_CONTENT_LENGTH (POST /imports)."""

    def declare(view: F) -> F:
        setattr(view, _BODY_LIMIT, setting)
        return amend(view, lambda operation: _document_limit(operation, setting))

    return declare


def _document_limit(operation: Schema, setting: str) -> None:
    """The route's own 413: its limit is the setting, not MAX_CONTENT_LENGTH."""
    operation["responses"]["413"] = problem_response(
        f"The body is over the limit (the server's `{setting}`).",
        "Request entity too large",
    )


def refuse_oversized_body() -> None:
    """Answer 413 from the declared Content-Length, before any of the body is read."""
    view = current_app.view_functions.get(request.endpoint or "")
    setting = getattr(view, _BODY_LIMIT, None)
    if setting is not None:
        request.max_content_length = current_app.config[setting]
    if not request.environ.get("CONTENT_LENGTH"):
        # Nothing declared (a GET, or a chunked body: request_body() counts it).
        return
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise _too_large(limit)


def request_body() -> bytes:
    """The whole request body; 413 when a body without Content-Length runs too long."""
    body = request.get_data()
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(body) >= limit:
        # Werkzeug stops reading a chunked body at the limit without a word;
        # one more byte waiting means the body was over it.
        if request.environ["wsgi.input"].read(1):
            raise _too_large(limit)
    return body


def json_body() -> Any:
    """The request body parsed as strict JSON; 415 unless it is declared JSON."""
    if not request.is_json:
        raise Problem(
            415,
            "Unsupported media type",
            "The body must be JSON, sent with Content-Type: application/json.",
        )
    try:
        return parse_json(request_body())
    except MalformedJSON as error:
        raise ValidationError({"body": str(error)}) from None


def refuse_undecodable_path() -> None:
    """Answer 400 when the percent-decoded path is not UTF-8 (names are Unicode)."""
    raw_path = request.environ.get("PATH_INFO", "")
    if raw_path.isascii():
        return
    try:
        # WSGI hands over the path's bytes as latin-1 code points.
        raw_path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise BadRequest(
            "The URL path is not valid UTF-8 once percent-decoded."
        ) from None


def register_guards(app: Flask) -> None:
    """Run the guards before every request of ``app``."""
    app.before_request(refuse_oversized_body)
    app.before_request(refuse_undecodable_path)
