"""The OpenAPI 3.1 document of the JSON API, built from the input rules' constants.

The document is written here by hand, as Python data, rather than generated from the
views: the views carry no schema, and a hand-written contract says what a client may
rely on, not what the code happens to do. Building it in Python lets the schema
constraints reuse the limits in ``validation.py`` instead of copying their numbers.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from .errors import PROBLEM_MEDIA_TYPE
from .validation import MAX_NAME_LENGTH, MAX_QUANTITY

OPENAPI_VERSION = "3.1.0"
API_VERSION = "0.1.0"

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"

# A name may hold any character but "/" and the C0 and C1 controls (category Cc),
# and must hold at least one that Python's str.isspace() does not count as space.
# The spaces are spelled out because a regex "\s" means something else in each
# engine (ECMA-262's includes U+FEFF, Python's does not).
_NOT_IN_NAMES = r"/\u0000-\u001f\u007f-\u009f"
_SPACES = r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NAME_PATTERN = f"^[^{_NOT_IN_NAMES}]*[^{_NOT_IN_NAMES}{_SPACES}][^{_NOT_IN_NAMES}]*$"

Schema = dict[str, Any]


def _ref(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def _content(schema: Schema, *media_types: str, example: Any = None) -> Schema:
    media: Schema = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {media_type: dict(media) for media_type in media_types or (JSON,)}


def _message(text: str) -> Schema:
    """A success body ``{"message": text}``."""
    return {
        "type": "object",
        "required": ["message"],
        "properties": {"message": {"const": text}},
        "additionalProperties": False,
    }


def _ok(description: str, schema: Schema, **extra: Any) -> Schema:
    return {"description": description, "content": _content(schema), **extra}


def _created(message: str, target: str, links: dict[str, Schema]) -> Schema:
    return {
        "description": f"{message}; `Location` is the URL of the new {target}.",
        "headers": {"Location": _ref("headers", "Location")},
        "content": _content(_message(message)),
        "links": links,
    }


def _problem(description: str, *errors: str, **extra: Any) -> Schema:
    """A problem+json response whose ``error`` is one of ``errors``."""
    schema: Schema = _ref("schemas", "Problem")
    if errors:
        schema = {
            "allOf": [
                schema,
                {"properties": {"error": {"enum": list(errors)}}},
            ]
        }
    return {
        "description": description,
        "content": _content(schema, PROBLEM_MEDIA_TYPE),
        **extra,
    }


def _responses(
    success: dict[str, Schema],
    *,
    bad_request: tuple[str, ...] = (),
    not_found: tuple[str, ...] = (),
    body: bool = False,
    database: bool = True,
    names: bool = True,
) -> dict[str, Schema]:
    """The operation's responses: ``success`` and the errors that can reach it."""
    responses = dict(success)
    if names or body or bad_request:
        responses["400"] = _ref("responses", "BadRequest")
        if bad_request:
            responses["400"] = _problem(
                "The input broke a rule (`errors` names each bad key), or "
                + ", or ".join(f"`{error}`" for error in bad_request)
                + ".",
                "Invalid input",
                "Bad request",
                *bad_request,
            )
    if names and "Not found" not in not_found:
        # An empty name, or one holding "/", makes a URL that routes elsewhere.
        not_found = (*not_found, "Not found")
    if not_found:
        responses["404"] = _problem(
            "The collection or member is not there; `Not found` also when a name"
            " is empty or holds a `/`, which routes the URL elsewhere.",
            *not_found,
        )
    if names:
        responses["405"] = _ref("responses", "MethodNotAllowed")
    if body:
        responses["413"] = _ref("responses", "TooLarge")
        responses["415"] = _ref("responses", "UnsupportedMediaType")
    responses["500"] = _ref("responses", "ServerError")
    if database:
        responses["503"] = _ref("responses", "NotMigrated")
    return responses


def _collection_links(parameter: str) -> dict[str, Schema]:
    """Links from a response about one collection to what can be done with it."""
    collection = {"collection": parameter}
    return {
        "GetCollection": {"operationId": "getCollection", "parameters": collection},
        "ReplaceCollection": {
            "operationId": "replaceCollection",
            "parameters": collection,
        },
        "UpdateCollection": {
            "operationId": "updateCollection",
            "parameters": collection,
        },
        "DeleteCollection": {
            "operationId": "deleteCollection",
            "parameters": collection,
        },
        "PutMember": {"operationId": "putMember", "parameters": collection},
    }


def _member_links() -> dict[str, Schema]:
    """Links from a response about one member to what can be done with it."""
    member = {
        "collection": "$request.path.collection",
        "member": "$request.path.member",
    }
    return {
        "GetMember": {"operationId": "getMember", "parameters": member},
        "PutMember": {"operationId": "putMember", "parameters": member},
        "DeleteMember": {"operationId": "deleteMember", "parameters": member},
        "GetCollection": {
            "operationId": "getCollection",
            "parameters": {"collection": "$request.path.collection"},
        },
    }


def _stock_paths() -> dict[str, Schema]:
    collection_param = _ref("parameters", "Collection")
    member_param = _ref("parameters", "Member")
    members_body = {
        "required": True,
        "content": _content(
            _ref("schemas", "Members"), example={"apple": 30, "pear": 0}
        ),
    }
    created_collection = _created(
        "Collection created",
        "collection",
        _collection_links("$request.path.collection"),
    )
    return {
        "/stock": {
            "get": {
                "operationId": "listStock",
                "summary": "Every collection with its members",
                "description": "Collections and members are listed in the order"
                " they were created.",
                "tags": ["stock"],
                "responses": _responses(
                    {
                        "200": _ok(
                            "Each collection's members and quantities.",
                            _ref("schemas", "Stock"),
                        )
                    },
                    names=False,
                ),
            }
        },
        "/stock/{collection}": {
            "parameters": [collection_param],
            "get": {
                "operationId": "getCollection",
                "summary": "One collection's members",
                "tags": ["stock"],
                "responses": _responses(
                    {
                        "200": _ok(
                            "The collection's members and quantities, in"
                            " creation order.",
                            _ref("schemas", "Members"),
                        )
                    },
                    not_found=("Not found",),
                ),
            },
            "post": {
                "operationId": "createCollection",
                "summary": "Create a collection",
                "description": "Refused with 400 `Collection already exists` if the"
                " name is taken; nothing is changed then.",
                "tags": ["stock"],
                "requestBody": members_body,
                "responses": _responses(
                    {"201": created_collection},
                    bad_request=("Collection already exists",),
                    body=True,
                ),
            },
            "put": {
                "operationId": "replaceCollection",
                "summary": "Replace a collection's members, creating it if needed",
                "description": "Members not in the body are removed.",
                "tags": ["stock"],
                "requestBody": members_body,
                "responses": _responses(
                    {
                        "200": _ok(
                            "The collection now holds exactly the body's members.",
                            _message("Collection replaced"),
                        ),
                        "201": created_collection,
                    },
                    body=True,
                ),
            },
            "patch": {
                "operationId": "updateCollection",
                "summary": "Merge changes into a collection, creating it if needed",
                "description": "A JSON merge patch (RFC 7396): each member in the"
                " body is set, and `null` removes it.",
                "tags": ["stock"],
                "requestBody": {
                    "required": True,
                    "content": _content(
                        _ref("schemas", "MembersPatch"),
                        JSON,
                        MERGE_PATCH,
                        example={"apple": 12, "pear": None},
                    ),
                },
                "responses": _responses(
                    {
                        "200": _ok(
                            "The changes were merged.", _message("Collection updated")
                        ),
                        "201": created_collection,
                    },
                    body=True,
                ),
            },
            "delete": {
                "operationId": "deleteCollection",
                "summary": "Delete a collection and all its members",
                "tags": ["stock"],
                "responses": _responses(
                    {"204": {"description": "Deleted; no body."}},
                    not_found=("Collection not found",),
                ),
            },
        },
        "/stock/{collection}/{member}": {
            "parameters": [collection_param, member_param],
            "get": {
                "operationId": "getMember",
                "summary": "One member's quantity",
                "tags": ["stock"],
                "responses": _responses(
                    {
                        "200": _ok(
                            "The quantity, as a bare JSON integer.",
                            _ref("schemas", "Quantity"),
                        )
                    },
                    not_found=("Not found",),
                ),
            },
            "put": {
                "operationId": "putMember",
                "summary": "Set a member's quantity, creating the member if needed",
                "description": "The collection must exist.",
                "tags": ["stock"],
                "requestBody": {
                    "required": True,
                    "content": _content(_ref("schemas", "Quantity"), example=12),
                },
                "responses": _responses(
                    {
                        "200": _ok(
                            "The member's quantity was replaced.",
                            _message("Member replaced"),
                        ),
                        "201": _created("Member created", "member", _member_links()),
                    },
                    not_found=("Collection not found",),
                    body=True,
                ),
            },
            "delete": {
                "operationId": "deleteMember",
                "summary": "Delete one member of a collection",
                "tags": ["stock"],
                "responses": _responses(
                    {"204": {"description": "Deleted; no body."}},
                    not_found=("Collection not found", "Member not found"),
                ),
            },
        },
    }


def _text_paths() -> dict[str, Schema]:
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "/get-text": {
            "get": {
                "operationId": "getText",
                "summary": "The tutorial's fixed text",
                "tags": ["text"],
                "responses": _responses(
                    {
                        "200": {
                            "description": "The text `some text`.",
                            "content": {
                                "text/plain": {"schema": {"const": "some text"}}
                            },
                        }
                    },
                    names=False,
                    database=False,
                ),
            }
        },
        "/qs": {
            "get": {
                "operationId": "echoQuery",
                "summary": "Echo the query string",
                "description": "Each pair as `key: value`, separated by spaces, or"
                " `No query` when there is none.",
                "tags": ["text"],
                "parameters": [
                    {
                        "name": "pairs",
                        "in": "query",
                        "description": "Any keys and values.",
                        "style": "form",
                        "explode": True,
                        "schema": {"type": "object"},
                        "example": {"colour": "red"},
                    }
                ],
                "responses": _responses(
                    {"200": {"description": "The pairs as text.", "content": text}},
                    names=False,
                    database=False,
                ),
            }
        },
    }


def _schemas() -> dict[str, Schema]:
    name = {"$ref": "#/components/schemas/Name"}
    quantity = {"$ref": "#/components/schemas/Quantity"}
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
        "Members": {
            "type": "object",
            "description": "Member name to quantity, in creation order.",
            "propertyNames": name,
            "additionalProperties": quantity,
            "examples": [{"apple": 30, "pear": 0}],
        },
        "MembersPatch": {
            "type": "object",
            "description": "Member name to new quantity; `null` removes the member.",
            "propertyNames": name,
            "additionalProperties": {"oneOf": [quantity, {"type": "null"}]},
        },
        "Stock": {
            "type": "object",
            "description": "Collection name to its members, in creation order.",
            "propertyNames": name,
            "additionalProperties": {"$ref": "#/components/schemas/Members"},
            "examples": [{"fruit": {"apple": 30, "pear": 0}, "veg": {}}],
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
                    " `member`, or a member name in the body) with why.",
                    "additionalProperties": {"type": "string"},
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


def _shared_responses() -> dict[str, Schema]:
    return {
        "BadRequest": _problem(
            "The input broke a rule (`errors` names each bad key), or the URL is"
            " not UTF-8 once percent-decoded (`Bad request`).",
            "Invalid input",
            "Bad request",
        ),
        "MethodNotAllowed": _problem(
            "The URL takes other methods, listed in `Allow` (a `/` in a name"
            " routes to another URL).",
            "Method not allowed",
            headers={"Allow": _ref("headers", "Allow")},
        ),
        "TooLarge": _problem(
            "The body is over the limit (1 MiB by default).",
            "Request entity too large",
        ),
        "UnsupportedMediaType": _problem(
            "The body was not sent as JSON (`Content-Type: application/json`).",
            "Unsupported media type",
        ),
        "ServerError": _problem(
            "The server failed; nothing was stored.", "Internal server error"
        ),
        "NotMigrated": _problem(
            "The database schema is missing or out of date.", "Database not migrated"
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
            " every URL. Names in URLs are percent-encoded UTF-8.",
        },
        "tags": [
            {"name": "stock", "description": "Collections and their members."},
            {"name": "text", "description": "The tutorial's plain-text routes."},
        ],
        "paths": {**_stock_paths(), **_text_paths()},
        "components": {
            "schemas": _schemas(),
            "parameters": {
                "Collection": {
                    "name": "collection",
                    "in": "path",
                    "required": True,
                    "description": "The collection's name, percent-encoded.",
                    "schema": _ref("schemas", "Name"),
                    "example": "fruit",
                },
                "Member": {
                    "name": "member",
                    "in": "path",
                    "required": True,
                    "description": "The member's name, percent-encoded.",
                    "schema": _ref("schemas", "Name"),
                    "example": "apple",
                },
            },
            "headers": {
                "Location": {
                    "description": "The path of the created resource.",
                    "required": True,
                    "schema": {"type": "string", "format": "uri-reference"},
                },
                "Allow": {
                    "description": "The methods the URL takes.",
                    "required": True,
                    "schema": {"type": "string"},
                },
            },
            "responses": _shared_responses(),
        },
    }
