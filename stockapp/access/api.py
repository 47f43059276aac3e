"""The JSON API of identities: who am I, and my tokens."""

from __future__ import annotations

from typing import Any

from flask import url_for

from ..core.api_doc import (
    documented,
    media,
    ok_response,
    operation_responses,
    problem_response,
    ref,
)
from ..core.api_document import api_blueprint
from ..core.guards import json_body
from . import account_pages, accounts
from .grants import owner_filter, refuse_wider_than_caller
from .identity import current_identity
from .models import MAX_TOKEN_ID
from .permissions import prefers_html, requires_user
from .schemas import token_not_found
from .validation import token_request

bp = api_blueprint("access_api", __name__)
# Ids beyond the column's range route nowhere (404) instead of reaching SQL.
_ONE_TOKEN = f"/tokens/<int(max={MAX_TOKEN_ID}):token_id>"
# A path of these routes takes other methods: 405 then, as everywhere.
_METHOD_NOT_ALLOWED = {"405": ref("responses", "MethodNotAllowed")}


@bp.get("/me")
@documented(
    "me",
    tag="access",
    responses=operation_responses(
        {"200": ok_response("The caller.", ref("schemas", "Me"))},
        names=False,
        extra=_METHOD_NOT_ALLOWED,
    ),
)
@requires_user("read")
def me() -> Any:
    """Who the caller is."""
    identity = current_identity()
    return {
        "user": identity.name,
        "role": identity.role,
        "scope": identity.scope,
        "token": identity.token_id,
        "collections": None
        if identity.collections is None
        else sorted(identity.collections),
    }


@bp.get("/tokens")
@documented(
    "listTokens",
    tag="access",
    responses=operation_responses(
        {
            "200": ok_response(
                "The tokens, oldest first; never a secret.",
                ref("schemas", "TokenList"),
            )
        },
        names=False,
        extra=_METHOD_NOT_ALLOWED,
    ),
)
@requires_user("read", negotiated=True)
def list_tokens() -> Any:
    """The caller's tokens (with admin scope, everyone's)."""
    # JSON, or the tokens page a browser asks for.
    if prefers_html():
        return account_pages.tokens_page()
    tokens = accounts.list_tokens(owner_filter(current_identity()))
    # Caches keep the HTML and the JSON answers apart.
    return {"tokens": tokens}, 200, {"Vary": "Accept"}


@bp.get(_ONE_TOKEN)
@documented(
    "getToken",
    tag="access",
    responses=operation_responses(
        {"200": ok_response("The token (never its secret).", ref("schemas", "Token"))},
        names=False,
        extra={**_METHOD_NOT_ALLOWED, "404": token_not_found()},
    ),
)
@requires_user("read")
def get_token(token_id: int) -> Any:
    """One token."""
    return accounts.get_token(token_id, owner_filter(current_identity()))


@bp.post("/tokens")
@documented(
    "createToken",
    tag="access",
    body={
        "required": True,
        "content": media(
            ref("schemas", "TokenRequest"),
            example={"label": "scanner", "scope": "read"},
        ),
    },
    responses=operation_responses(
        {
            "201": ok_response(
                "The new token with its secret, `token`, shown this once;"
                " `Location` is the token's URL.",
                ref("schemas", "NewToken"),
                "Location",
            ),
        },
        names=False,
        body=True,
        extra={
            **_METHOD_NOT_ALLOWED,
            "404": problem_response(
                "There is no user named `user`.", accounts.USER_NOT_FOUND
            ),
        },
    ),
)
@requires_user("read")
def create_token() -> Any:
    """Make a token no wider than the caller.

    The scope may not exceed the caller's or the owner's role (`metrics`, which
    reads only `/metrics`, is an admin's and is limited to no collection); a
    token limited to some collections makes only tokens limited to some of
    them, and an expiring one only tokens that expire no later. With admin
    scope, `user` makes one for someone else. The secret is in this answer only.
    """
    identity = current_identity()
    wanted = token_request(json_body())
    refuse_wider_than_caller(identity, wanted)
    owner = wanted.user or identity.name
    assert owner is not None
    new = accounts.create_token(wanted, owner)
    location = url_for(".get_token", token_id=new.token["id"])
    return {**new.token, "token": new.secret}, 201, {"Location": location}


@bp.delete(_ONE_TOKEN)
@documented(
    "revokeToken",
    tag="access",
    responses=operation_responses(
        {"204": {"description": "Revoked; no body."}},
        names=False,
        extra={**_METHOD_NOT_ALLOWED, "404": token_not_found()},
    ),
)
@requires_user("read")
def revoke_token(token_id: int) -> Any:
    """Revoke a token: it stops working at once."""
    accounts.revoke_token(token_id, owner_filter(current_identity()))
    return "", 204
