"""The access part of the API document: its schemas, and who may call what.

``describe_access`` writes each operation's ``security`` and its 401/403/429
answers from the requirement its route declares (stockapp/access/permissions.py),
so the document cannot say otherwise than the code.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from ..core.api_doc import (
    NAME_PATTERN,
    TIMESTAMP,
    Schema,
    problem_response,
    ref,
)
from ..core.rules import MAX_NAME_LENGTH
from . import accounts
from .models import MAX_LABEL_LENGTH, MAX_TOKEN_ID
from .permissions import requirement_of
from .scopes import ROLES, SCOPES, STANDALONE
from .token_secrets import TOKEN_PREFIX
from .validation import MAX_EXPIRY_DAYS, MAX_TOKEN_COLLECTIONS

HTTP_METHODS = ("get", "put", "post", "delete", "patch")


class _Sample(dict):
    """Values that put a described path to the router: a name, or an id (1)."""

    def __missing__(self, key: str) -> str:
        return "1"


_SAMPLE = _Sample(collection="fruit", member="apple")
# Stock routes take a token, or no credentials where ANONYMOUS_ACCESS allows.
_TOKEN_OR_ANONYMOUS: list[Schema] = [{"bearer": []}, {}]
_TOKEN: list[Schema] = [{"bearer": []}]


def token_not_found() -> Schema:
    return problem_response(
        "There is no such token among those the caller may see (its own; with"
        " admin scope, anyone's), or it is already revoked (`Token not found`);"
        f" an id that is not a whole number up to {MAX_TOKEN_ID} routes nowhere"
        " (`Not found`).",
        accounts.TOKEN_NOT_FOUND,
        "Not found",
    )


def access_parameters() -> dict[str, Schema]:
    return {
        "TokenId": {
            "name": "token_id",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_TOKEN_ID},
        }
    }


def collection_names(description: str) -> Schema:
    """A list of collection names, each once (a token's or a webhook's), or
    null for every collection."""
    return {
        "oneOf": [
            {
                "type": "array",
                "items": ref("schemas", "Name"),
                "minItems": 1,
                "maxItems": MAX_TOKEN_COLLECTIONS,
                "uniqueItems": True,
            },
            {"type": "null"},
        ],
        "description": description,
    }


def access_schemas() -> dict[str, Schema]:
    """The schemas of users and tokens."""
    name = ref("schemas", "Name")
    collections = collection_names(
        "The collections the token is limited to; null for every collection."
    )
    nullable_time = {"oneOf": [TIMESTAMP, {"type": "null"}]}
    label = {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_LABEL_LENGTH,
        "pattern": r"^[^\u0000-\u001f\u007f-\u009f]*\S[^\u0000-\u001f\u007f-\u009f]*$",
    }
    token_properties = {
        "id": {"type": "integer", "minimum": 1},
        "user": name,
        "label": label,
        "scope": {"enum": list(SCOPES)},
        "collections": collections,
        "created_at": TIMESTAMP,
        "expires_at": nullable_time,
        "last_used_at": {
            **nullable_time,
            "description": "Written at most once a minute.",
        },
        "revoked_at": nullable_time,
    }
    secret = {
        "type": "string",
        "pattern": f"^{TOKEN_PREFIX}[A-Za-z0-9_-]{{43}}$",
        "description": "The token itself; send it as `Authorization: Bearer ...`."
        " It is stored only as a digest and never shown again.",
    }
    return {
        "Me": {
            "type": "object",
            "required": ["user", "role", "scope", "token", "collections"],
            "properties": {
                "user": name,
                "role": {"enum": list(ROLES)},
                "scope": {
                    "enum": list(SCOPES),
                    "description": "What this request may do: the token's scope"
                    " within the user's role (a browser session: the role's).",
                },
                "token": {"type": ["integer", "null"], "minimum": 1},
                "collections": collections,
            },
            "additionalProperties": False,
        },
        "Token": {
            "type": "object",
            "required": list(token_properties),
            "properties": token_properties,
            "additionalProperties": False,
        },
        "NewToken": {
            "type": "object",
            "required": [*token_properties, "token"],
            "properties": {**token_properties, "token": secret},
            "additionalProperties": False,
        },
        "TokenList": {
            "type": "object",
            "required": ["tokens"],
            "properties": {
                "tokens": {"type": "array", "items": ref("schemas", "Token")}
            },
            "additionalProperties": False,
        },
        "TokenRequest": {
            "type": "object",
            "required": ["label", "scope"],
            "properties": {
                "label": label,
                "scope": {"enum": list(SCOPES)},
                "expires_in_days": {
                    "type": ["integer", "null"],
                    "minimum": 1,
                    "maximum": MAX_EXPIRY_DAYS,
                },
                "collections": collections,
                "user": {
                    "oneOf": [
                        {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": MAX_NAME_LENGTH,
                            "pattern": NAME_PATTERN,
                        },
                        {"type": "null"},
                    ],
                    "description": "Whose token it is (another user's: admin scope"
                    " only); the caller's when absent or null.",
                },
            },
            "additionalProperties": False,
            # A standalone scope (metrics) is about no collection.
            "if": {
                "required": ["scope"],
                "properties": {"scope": {"enum": list(STANDALONE)}},
            },
            "then": {"properties": {"collections": {"type": "null"}}},
        },
    }


def describe_access(document: dict[str, Any], app: Flask) -> None:
    """Write each operation's security and its 401/403/429 answers, from the
    requirement its route declares."""
    adapter = app.url_map.bind("localhost")
    with app.app_context():
        for path, item in document["paths"].items():
            url = path.format_map(_SAMPLE)
            for method in HTTP_METHODS:
                if method in item:
                    endpoint, _ = adapter.match(url, method=method.upper())
                    _secure(item[method], requirement_of(endpoint))


def _secure(operation: Schema, requirement: Any) -> None:
    responses = operation["responses"]
    # A token that is sent is checked everywhere: 401 and 429 can always come.
    responses["401"] = ref("responses", "Unauthorized")
    responses["429"] = ref("responses", "TooManyRequests")
    if requirement.scope is None:
        operation["security"] = []
    else:
        responses["403"] = ref("responses", "Forbidden")
        operation["security"] = _TOKEN if requirement.user else _TOKEN_OR_ANONYMOUS
        needs = "a user's token" if requirement.user else "a token or anonymous access"
        scope = f"`{requirement.scope}`"
        if requirement.scope in STANDALONE:
            scope += " or the `admin`"
        note = f"Needs the {scope} scope ({needs})."
        description = operation.get("description")
        operation["description"] = f"{description} {note}" if description else note
    operation["responses"] = dict(sorted(responses.items()))
