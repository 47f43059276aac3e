"""The API document's shared fragments, written once by hand: the Name,
Quantity and Problem schemas, the parameters, headers and answers many
operations share. What belongs to one capability is declared beside its views.
"""

from __future__ import annotations

from .api_doc import (
    IDEMPOTENCY_KEY_PATTERN,
    NAME_PATTERN,
    Schema,
    header_refs,
    problem_response,
    ref,
)
from .cursors import CURSOR_PATTERN
from .errors import DATABASE_BUSY, DATABASE_UNAVAILABLE, NOT_MIGRATED
from .rules import MAX_NAME_LENGTH, MAX_PROBLEMS_LISTED, MAX_QUANTITY


def shared_schemas() -> dict[str, Schema]:
    return {
        "Name": {
            "type": "string",
            "description": f"A collection or member name: 1 to {MAX_NAME_LENGTH}"
            " characters (code points), not only whitespace, with no `/` and no"
            " control characters. Lone surrogates (`\\ud800` in a JSON string)"
            " are refused too, and so are `.` and `..`, which clients drop from a"
            " URL.",
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
                "more_errors": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "How many more problems there are than"
                    f" `errors` lists (it lists at most {MAX_PROBLEMS_LISTED}).",
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


def shared_parameters() -> dict[str, Schema]:
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


def shared_headers() -> dict[str, Schema]:
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


def shared_responses() -> dict[str, Schema]:
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
            "The database schema is missing or out of date. `Database busy`: the"
            " database stayed locked, or concurrent writes kept conflicting, past"
            " the server's wait; nothing was stored, try again after `Retry-After`"
            " seconds. `Database unavailable`: the database cannot be reached;"
            " try again after `Retry-After` seconds.",
            NOT_MIGRATED,
            DATABASE_BUSY,
            DATABASE_UNAVAILABLE,
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
