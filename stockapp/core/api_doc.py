"""The OpenAPI 3.1 document of the JSON API, built from the input rules' constants.

The document is written here by hand, as Python data, rather than generated from the
views: the views carry no schema, and a hand-written contract says what a client may
rely on, not what the code happens to do. Building it in Python lets the schema
constraints reuse the limits in ``validation.py`` and ``history.py`` instead of
copying their numbers, and lets repeated parts be written once.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from .cursors import CURSOR_PATTERN, Pages
from .errors import PROBLEM_MEDIA_TYPE
from .rules import MAX_NAME_LENGTH, MAX_QUANTITY

OPENAPI_VERSION = "3.1.0"
API_VERSION = "0.1.0"

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"

# A name may hold any character but "/" and the C0 and C1 controls (category Cc),
# and must hold at least one that Python's str.isspace() does not count as space.
# The spaces are spelled out because a regex "\s" means something else in each
# engine (ECMA-262's includes U+FEFF, Python's does not).
_CONTROLS = r"\u0000-\u001f\u007f-\u009f"
_SPACES = r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NAME_PATTERN = f"^[^/{_CONTROLS}]*[^/{_CONTROLS}{_SPACES}][^/{_CONTROLS}]*$"
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
    idempotent: bool = False,
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
    elif names or paged or body or idempotent:
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
    if idempotent:
        responses["422"] = ref("responses", "IdempotencyKeyReused")
    responses["500"] = ref("responses", "ServerError")
    if database:
        responses["503"] = ref("responses", "NotMigrated")
    if body or conditional or idempotent:
        # A write: the disk may be full.
        responses["507"] = ref("responses", "StorageFull")
    return dict(sorted(responses.items()))


def _schemas() -> dict[str, Schema]:
    return {
        "Name": {
            "type": "string",
            "description": f"A collection or member name: 1 to {MAX_NAME_LENGTH}"
            " characters (code points), not only whitespace, with no `/` and no"
            " control characters. Lone surrogates (`\\ud800` in a JSON string)"
            " are refused too.",
            "minLength": 1,
            "maxLength": MAX_NAME_LENGTH,
            "pattern": NAME_PATTERN,
            "examples": ["fruit", "apple"],
        },
        "Quantity": {
            "type": "integer",
            "format": "int64",
            "description": "Written as a JSON integer: `2.0`, `2e0`, `true` and"
            ' `"2"` are refused. (JSON Schema counts `2.0` as an integer; this'
            " API does not.)",
            "minimum": 0,
            "maximum": MAX_QUANTITY,
            "examples": [30],
        },
        "Problem": {
            "type": "object",
            "description": "An RFC 9457 problem, plus the `error` message older"
            " clients read. Other members may be added.",
            "required": ["type", "title", "status", "detail", "error"],
            "properties": {
                "type": {"type": "string", "const": "about:blank"},
                "title": {"type": "string", "description": "The HTTP status text."},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
                "error": {"type": "string"},
                "errors": {
                    "type": "object",
                    "description": "Each offending key (`body`, `collection`,"
                    " `member`, a key of the body, a query parameter or a header)"
                    " with why.",
                    "additionalProperties": {"type": "string"},
                },
                "request_id": {
                    "type": "string",
                    "description": "On a 5xx: the request's `X-Request-ID`, which"
                    " is on every log line of the request.",
                },
            },
            "additionalProperties": True,
            "example": {
                "type": "about:blank",
                "title": "Not Found",
                "status": 404,
                "detail": 'There is no collection "veg".',
                "error": "Not found",
            },
        },
    }


def _parameters() -> dict[str, Schema]:
    def header(name: str, description: str, schema: Schema) -> Schema:
        return {
            "name": name,
            "in": "header",
            "description": description,
            "schema": schema,
        }

    return {
        "Collection": {
            "name": "collection",
            "in": "path",
            "required": True,
            "description": "The collection's name, percent-encoded.",
            "schema": ref("schemas", "Name"),
            "example": "fruit",
        },
        "Member": {
            "name": "member",
            "in": "path",
            "required": True,
            "description": "The member's name, percent-encoded.",
            "schema": ref("schemas", "Name"),
            "example": "apple",
        },
        # Any value is taken: one that names no current tag simply does not match.
        "IfMatch": header(
            "If-Match",
            "Write only if the resource's current `ETag` is listed (`*`: if it"
            " exists); 412 otherwise.",
            {"type": "string", "minLength": 1},
        ),
        "IfNoneMatch": header(
            "If-None-Match",
            "`*` writes only if the resource does not exist; a list of tags, only"
            " if its `ETag` is not among them. 412 otherwise.",
            {"type": "string"},
        ),
        "IfNoneMatchRead": header(
            "If-None-Match",
            "304 with no body when the current `ETag` is listed.",
            {"type": "string"},
        ),
        "IdempotencyKey": header(
            "Idempotency-Key",
            "A retry with the same key and the same request (method, path and body)"
            " within 24 hours gets the first success replayed and changes nothing;"
            " the same key with another request is 422.",
            {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "pattern": IDEMPOTENCY_KEY_PATTERN,
                "examples": ["5f0c1c1e-order-1042"],
            },
        ),
        "Cursor": {
            "name": "cursor",
            "in": "query",
            "description": "Where the page starts: opaque, only as found in the"
            " `Link` header of the page before (400 otherwise).",
            "schema": {"type": "string", "minLength": 1, "pattern": CURSOR_PATTERN},
        },
    }


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


def _response_headers() -> dict[str, Schema]:
    return {
        "Location": {
            "description": "The path of the created resource.",
            "required": True,
            "schema": {"type": "string", "format": "uri-reference"},
        },
        "ETag": {
            "description": "The resource's strong entity tag; it changes with the"
            " resource.",
            "required": True,
            "schema": {"type": "string", "pattern": '^"[\\u0021\\u0023-\\u007e]*"$'},
        },
        "Link": {
            "description": 'The next page, as `<url>; rel="next"`; absent on the'
            " last page.",
            "schema": {"type": "string", "pattern": '^<[^>]+>; rel="next"$'},
        },
        "Idempotent-Replayed": {
            "description": "`true` when this is the stored answer to an earlier"
            " request with the same `Idempotency-Key`.",
            "schema": {"const": "true"},
        },
        "Allow": {
            "description": "The methods the URL takes.",
            "required": True,
            "schema": {"type": "string"},
        },
        "WWW-Authenticate": {
            "description": 'The bearer challenge (RFC 6750): `Bearer realm="stockapp"`,'
            ' with `error="invalid_token"` for a token that cannot be used and'
            ' `error="insufficient_scope"` for one that may not do this.',
            "schema": {"type": "string", "pattern": '^Bearer realm="stockapp"'},
        },
        "Retry-After": {
            "description": "Seconds until the limit allows another attempt.",
            "required": True,
            "schema": {"type": "string", "pattern": "^[1-9][0-9]*$"},
        },
    }


def _shared_responses() -> dict[str, Schema]:
    return {
        "BadRequest": problem_response(
            "The input broke a rule (`errors` names each bad key), or the URL is"
            " not UTF-8 once percent-decoded (`Bad request`).",
            "Invalid input",
            "Bad request",
        ),
        "NotModified": {
            "description": "`If-None-Match` lists the current `ETag`; no body.",
            "headers": header_refs("ETag"),
        },
        "MethodNotAllowed": problem_response(
            "The URL takes other methods, listed in `Allow` (a `/` in a name"
            " routes to another URL).",
            "Method not allowed",
            headers=header_refs("Allow"),
        ),
        "PreconditionFailed": problem_response(
            "`If-Match` or `If-None-Match` does not hold; nothing was changed.",
            "Precondition failed",
        ),
        "TooLarge": problem_response(
            "The body is over the limit (1 MiB by default).",
            "Request entity too large",
        ),
        "UnsupportedMediaType": problem_response(
            "The body was not sent as JSON (`Content-Type: application/json`).",
            "Unsupported media type",
        ),
        "IdempotencyKeyReused": problem_response(
            "The `Idempotency-Key` was used for a different request; nothing was"
            " changed.",
            "Idempotency key reused",
        ),
        "ServerError": problem_response(
            "The server failed; nothing was stored.", "Internal server error"
        ),
        "NotMigrated": problem_response(
            "The database schema is missing or out of date.", "Database not migrated"
        ),
        "StorageFull": problem_response(
            "The server's storage is full: nothing was stored. Reads still work,"
            " and writes work again once space is freed.",
            "Storage full",
        ),
        "Unauthorized": problem_response(
            "No credentials where they are needed (`Authentication required`), or"
            " a bearer token that is unknown, expired, revoked or whose user is"
            " disabled (`Invalid token`, the same answer for each). A token that"
            " is sent is checked on every route, even where none is needed.",
            "Authentication required",
            "Invalid token",
            headers=header_refs("WWW-Authenticate"),
        ),
        "Forbidden": problem_response(
            "The caller is known but may not do this: its scope is too narrow, or"
            " its token is limited to other collections.",
            "Forbidden",
            headers=header_refs("WWW-Authenticate"),
        ),
        "TooManyRequests": problem_response(
            "Too many invalid tokens from this address (or, if `RATELIMIT_API` is"
            " set, too many requests with this token); try again after"
            " `Retry-After` seconds.",
            "Too many requests",
            headers=header_refs("Retry-After"),
        ),
    }


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document describing every route of the JSON API."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "stockapp",
            "version": API_VERSION,
            "summary": "Collections of members, each with a quantity in stock.",
            "description": "Every error is `application/problem+json` (RFC 9457)"
            " with an extra `error` message. A method a URL does not take is"
            " answered 405 with `Allow`; `HEAD` and `OPTIONS` are answered for"
            " every URL. Names in URLs are percent-encoded UTF-8."
            " Callers authenticate with `Authorization: Bearer stk_...`;"
            " whether stock routes also answer callers without credentials is the"
            " server's `ANONYMOUS_ACCESS` setting (none, read or write).",
        },
        "tags": [
            {"name": "stock", "description": "Collections and their members."},
            {
                "name": "inventory",
                "description": "Adjustments by a delta and the movement log.",
            },
            {"name": "text", "description": "The tutorial's plain-text routes."},
            {"name": "access", "description": "Who the caller is; API tokens."},
            {"name": "operations", "description": "Health checks, export, metrics."},
        ],
        "paths": {},
        "components": {
            "schemas": _schemas(),
            "parameters": _parameters(),
            "headers": _response_headers(),
            "responses": _shared_responses(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token, `stk_` and 43 characters, from"
                    " `flask tokens create` or `POST /tokens`. Its scope (read,"
                    " write, admin) and collections limit what it may do.",
                }
            },
        },
    }
