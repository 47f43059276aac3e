"""The API document's vocabulary, and how a view declares its part of it.

A JSON API view says what is its own with ``@documented``: its operation id,
tag, parameters, body and answers. The router gives the path and the methods,
the view's docstring the summary (its first line) and description (the rest);
the decorators a view already carries add what they mean (``@idempotent`` its
key and replay, ``@requires`` who may call it). ``api_document.py`` assembles
the whole from the app's routes. The schemas stay hand-written, as Python data,
so they reuse the input rules' limits rather than copy their numbers, and say
what a client may rely on rather than what the code happens to do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .cursors import Pages
from .errors import PROBLEM_MEDIA_TYPE

F = TypeVar("F", bound=Callable[..., Any])

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"

# A name may hold any character but "/" and the C0 and C1 controls (category Cc),
# and must hold at least one that Python's str.isspace() does not count as space.
# The spaces are spelled out because a regex "\s" means something else in each
# engine (ECMA-262's includes U+FEFF, Python's does not).
_CONTROLS = r"\u0000-\u001f\u007f-\u009f"
_SPACES = r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Not "." or "..", which clients remove from a URL (RFC 3986's dot segments).
NAME_PATTERN = rf"^(?!\.\.?$)[^/{_CONTROLS}]*[^/{_CONTROLS}{_SPACES}][^/{_CONTROLS}]*$"
REASON_PATTERN = f"^[^{_CONTROLS}]*$"
IDEMPOTENCY_KEY_PATTERN = r"^[\u0021-\u007e]{1,255}$"
# A UTC timestamp as every answer writes one.
TIMESTAMP: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "description": "UTC, to the microsecond.",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$",
    "examples": ["2026-11-23T20:55:09.123456Z"],
}

Schema = dict[str, Any]


def ref(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def media(schema: Schema, *media_types: str, example: Any = None) -> Schema:
    media: Schema = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {media_type: dict(media) for media_type in media_types or (JSON,)}


def message_schema(text: str) -> Schema:
    """A success body ``{"message": text}``."""
    return {
        "type": "object",
        "required": ["message"],
        "properties": {"message": {"const": text}},
        "additionalProperties": False,
    }


def header_refs(*names: str) -> Schema:
    return {name: ref("headers", name) for name in names}


def ok_response(
    description: str,
    schema: Schema,
    *headers: str,
    links: dict[str, Schema] | None = None,
) -> Schema:
    response = {"description": description, "content": media(schema)}
    if headers:
        response["headers"] = header_refs(*headers)
    if links:
        response["links"] = links
    return response


def created_response(
    message: str, target: str, links: dict[str, Schema], *headers: str
) -> Schema:
    return ok_response(
        f"{message}; `Location` is the URL of the new {target}, `ETag` its tag.",
        message_schema(message),
        "Location",
        "ETag",
        *headers,
        links=links,
    )


def problem_response(description: str, *errors: str, **extra: Any) -> Schema:
    """A problem+json response whose ``error`` is one of ``errors``."""
    schema: Schema = ref("schemas", "Problem")
    if errors:
        schema = {"allOf": [schema, {"properties": {"error": {"enum": list(errors)}}}]}
    return {
        "description": description,
        "content": media(schema, PROBLEM_MEDIA_TYPE),
        **extra,
    }


def operation_responses(
    success: dict[str, Schema],
    *,
    bad_request: tuple[str, ...] = (),
    not_found: tuple[str, ...] = (),
    body: bool = False,
    database: bool = True,
    names: bool = True,
    paged: bool = False,
    conditional: bool = False,
    extra: dict[str, Schema] | None = None,
) -> dict[str, Schema]:
    """The operation's responses: ``success`` and the errors that can reach it."""
    responses = {**success, **(extra or {})}
    if bad_request:
        responses["400"] = problem_response(
            "The input broke a rule (`errors` names each bad key), or "
            + ", or ".join(f"`{error}`" for error in bad_request)
            + ".",
            "Invalid input",
            "Bad request",
            *bad_request,
        )
    elif names or paged or body:
        responses["400"] = ref("responses", "BadRequest")
    if names and "Not found" not in not_found:
        # An empty name, or one holding "/", makes a URL that routes elsewhere.
        not_found = (*not_found, "Not found")
    if not_found:
        responses["404"] = problem_response(
            "The collection or member is not there; `Not found` also when a name"
            " is empty or holds a `/`, which routes the URL elsewhere.",
            *not_found,
        )
    if names:
        responses["405"] = ref("responses", "MethodNotAllowed")
    if conditional:
        responses["412"] = ref("responses", "PreconditionFailed")
    if body:
        responses["413"] = ref("responses", "TooLarge")
        responses["415"] = ref("responses", "UnsupportedMediaType")
    responses["500"] = ref("responses", "ServerError")
    if database:
        responses["503"] = ref("responses", "NotMigrated")
    if body or conditional:
        # A write: the disk may be full.
        responses["507"] = ref("responses", "StorageFull")
    return dict(sorted(responses.items()))


def limit_parameter(pages: Pages, description: str) -> Schema:
    return {
        "name": "limit",
        "in": "query",
        "description": description,
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": pages.max_limit,
            "default": pages.default_limit,
        },
    }


# How a view declares its operation ---------------------------------------------

# Changes a decorator makes to the operation of each view it decorates.
Amendment = Callable[[Schema], None]
_DECLARED = "stockapp_operation"
_AMENDMENTS = "stockapp_operation_amendments"


@dataclass(frozen=True)
class Declared:
    """What a view declares of its operation; the rest comes from the router."""

    operation_id: str
    tag: str
    responses: dict[str, Schema]
    parameters: tuple[Schema, ...] = ()
    body: Schema | None = None
    # The same view reached at another path, as it appears there (a member
    # named "history": the collection's history URL for its other methods).
    also: Mapping[str, Amendment] = field(default_factory=dict)


def documented(
    operation_id: str,
    *,
    tag: str,
    responses: dict[str, Schema],
    parameters: tuple[Schema, ...] = (),
    body: Schema | None = None,
    also: Mapping[str, Amendment] | None = None,
) -> Callable[[F], F]:
    """Declare a JSON API view's operation: the view's own parameters, request
    body and answers. Summary and description are the view's docstring."""

    def declare(view: F) -> F:
        setattr(
            view,
            _DECLARED,
            Declared(operation_id, tag, responses, parameters, body, also or {}),
        )
        return view

    return declare


def amend(view: F, amendment: Amendment) -> F:
    """Have ``amendment`` change the operation of ``view`` (for a decorator
    that adds its own parameters or answers)."""
    # A new list: a wrapper made by functools.wraps shares its view's __dict__.
    setattr(view, _AMENDMENTS, [*getattr(view, _AMENDMENTS, ()), amendment])
    return view


def declared_operation(view: Callable[..., Any]) -> Declared | None:
    """What ``view`` declares of its operation; None for a view outside the API."""
    return getattr(view, _DECLARED, None)


def amendments_of(view: Callable[..., Any]) -> list[Amendment]:
    return list(getattr(view, _AMENDMENTS, ()))
