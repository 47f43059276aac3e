"""The JSON API of identities: who am I, and my tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, url_for

from ..guards import json_body
from ..history import utc_text
from ..models import utcnow
from . import accounts
from .identity import Identity, current_identity
from .models import MAX_TOKEN_ID
from .permissions import insufficient_scope, requires_user
from .scopes import includes
from .validation import TokenRequest, token_request

bp = Blueprint("access_api", __name__)
# Ids beyond the column's range route nowhere (404) instead of reaching SQL.
_ONE_TOKEN = f"/tokens/<int(max={MAX_TOKEN_ID}):token_id>"


def _owner_filter(identity: Identity) -> int | None:
    """Whose tokens the caller may see: all for admin scope, else only its own."""
    return None if identity.allows("admin") else identity.user_id


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
@requires_user("read")
def list_tokens() -> Any:
    """The caller's tokens (with admin scope, everyone's); never a secret."""
    return {"tokens": accounts.list_tokens(_owner_filter(current_identity()))}


@bp.get(_ONE_TOKEN)
@requires_user("read")
def get_token(token_id: int) -> Any:
    """One of the caller's tokens (with admin scope, anyone's)."""
    return accounts.get_token(token_id, _owner_filter(current_identity()))


@bp.post("/tokens")
@requires_user("read")
def create_token() -> Any:
    """Make a token no wider than the caller; its secret is in this answer only."""
    identity = current_identity()
    wanted = token_request(json_body())
    _refuse_wider_than_caller(identity, wanted)
    owner = wanted.user or identity.name
    assert owner is not None
    new = accounts.create_token(wanted, owner)
    location = url_for(".get_token", token_id=new.token["id"])
    return {**new.token, "token": new.secret}, 201, {"Location": location}


def _refuse_wider_than_caller(identity: Identity, wanted: TokenRequest) -> None:
    if not includes(identity.scope, wanted.scope):
        raise insufficient_scope(identity, wanted.scope)
    if wanted.user not in (None, identity.name) and not identity.allows("admin"):
        raise insufficient_scope(identity, "admin")
    if identity.collections is not None and not (
        wanted.collections is not None
        and identity.collections.issuperset(wanted.collections)
    ):
        raise insufficient_scope(
            identity,
            wanted.scope,
            "A token limited to some collections can only make tokens limited to"
            " some of the same.",
        )
    if identity.expires_at is not None and (
        wanted.expires_in_days is None
        or utcnow() + timedelta(days=wanted.expires_in_days) > identity.expires_at
    ):
        raise insufficient_scope(
            identity,
            wanted.scope,
            "A token that expires can only make tokens that expire no later"
            f" (at {utc_text(identity.expires_at)}).",
        )


@bp.delete(_ONE_TOKEN)
@requires_user("read")
def revoke_token(token_id: int) -> Any:
    """Revoke one of the caller's tokens (with admin scope, anyone's)."""
    accounts.revoke_token(token_id, _owner_filter(current_identity()))
    return "", 204
