"""The JSON API of identities: who am I, and my tokens."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, url_for

from ..core.guards import json_body
from . import account_pages, accounts
from .grants import owner_filter, refuse_wider_than_caller
from .identity import current_identity
from .models import MAX_TOKEN_ID
from .permissions import prefers_html, requires_user
from .validation import token_request

bp = Blueprint("access_api", __name__)
# Ids beyond the column's range route nowhere (404) instead of reaching SQL.
_ONE_TOKEN = f"/tokens/<int(max={MAX_TOKEN_ID}):token_id>"


@bp.get("/me")
@requires_user("read")
def me() -> Any:
    """The caller: user name, role, and the token's scope and limits."""
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
@requires_user("read", negotiated=True)
def list_tokens() -> Any:
    """The caller's tokens (with admin scope, everyone's); never a secret. JSON,
    or the tokens page a browser asks for."""
    if prefers_html():
        return account_pages.tokens_page()
    tokens = accounts.list_tokens(owner_filter(current_identity()))
    # Caches keep the HTML and the JSON answers apart.
    return {"tokens": tokens}, 200, {"Vary": "Accept"}


@bp.get(_ONE_TOKEN)
@requires_user("read")
def get_token(token_id: int) -> Any:
    """One of the caller's tokens (with admin scope, anyone's)."""
    return accounts.get_token(token_id, owner_filter(current_identity()))


@bp.post("/tokens")
@requires_user("read")
def create_token() -> Any:
    """Make a token no wider than the caller; its secret is in this answer only."""
    identity = current_identity()
    wanted = token_request(json_body())
    refuse_wider_than_caller(identity, wanted)
    owner = wanted.user or identity.name
    assert owner is not None
    new = accounts.create_token(wanted, owner)
    location = url_for(".get_token", token_id=new.token["id"])
    return {**new.token, "token": new.secret}, 201, {"Location": location}


@bp.delete(_ONE_TOKEN)
@requires_user("read")
def revoke_token(token_id: int) -> Any:
    """Revoke one of the caller's tokens (with admin scope, anyone's)."""
    accounts.revoke_token(token_id, owner_filter(current_identity()))
    return "", 204
