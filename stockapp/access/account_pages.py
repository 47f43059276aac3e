"""The pages of accounts: a user's API tokens (create, list, revoke) and, for
admins, the users.

``GET /tokens`` is shared with the JSON API (access/api.py): a browser is sent
``tokens_page()``. A new token's secret exists nowhere but in the answer that
creates it, so that answer is the page itself (201, never stored, never cached)
rather than a redirect: a redirect would have to carry the secret through the
session cookie.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from ..core.clock import utc_text, utcnow
from ..core.errors import Problem
from ..core.rules import ValidationError
from . import accounts
from .grants import owner_filter, refuse_wider_than_caller
from .identity import current_identity
from .models import MAX_TOKEN_ID
from .permissions import requires_user
from .scopes import MEANINGS, covered_by
from .validation import token_request

bp = Blueprint("account_pages", __name__, template_folder="templates")


def tokens_page(
    status: int = 200,
    *,
    created: accounts.NewToken | None = None,
    errors: dict[str, str] | None = None,
) -> Any:
    """The caller's tokens (an admin's: everyone's) and the form to make one."""
    identity = current_identity()
    tokens = accounts.list_tokens(owner_filter(identity))
    now = utc_text(utcnow())
    for token in tokens:
        token["state"] = _state(token, now)
    assert identity.scope is not None
    scopes = covered_by(identity.scope)
    page = render_template(
        "access/tokens.html",
        tokens=tokens,
        created=created,
        errors=errors or {},
        form=request.form if errors else {},
        scopes=scopes,
        scope_hint="; ".join(f"{scope}: {MEANINGS[scope]}" for scope in scopes) + ".",
        everyone=identity.allows("admin"),
    )
    headers = {"Vary": "Accept"}
    if created is not None:
        # The page holds a secret: no cache keeps it, not even the browser's.
        headers["Cache-Control"] = "no-store"
    return page, status, headers


def _state(token: dict[str, Any], now: str) -> str:
    if token["revoked_at"] is not None:
        return "revoked"
    if token["expires_at"] is not None and token["expires_at"] <= now:
        return "expired"
    return "active"


@bp.post("/tokens/new")
@requires_user("read", page=True)
def create_token() -> Any:
    """Make a token for the logged-in user from the form; show its secret once."""
    identity = current_identity()
    try:
        wanted = token_request(_token_body(request.form))
        refuse_wider_than_caller(identity, wanted)
        assert identity.name is not None
        created = accounts.create_token(wanted, identity.name)
    except ValidationError as error:
        return tokens_page(400, errors=error.errors)
    except Problem as problem:
        if problem.status != 403:
            raise
        return tokens_page(403, errors={"form": problem.detail})
    return tokens_page(201, created=created)


def _token_body(form: Any) -> dict[str, Any]:
    """The form's fields as the API's token body, for the same rules to check."""
    body: dict[str, Any] = {
        "label": form.get("label", "").strip(),
        "scope": form.get("scope", ""),
    }
    days = form.get("expires_in_days", "").strip()
    if days:
        body["expires_in_days"] = (
            int(days) if days.isascii() and days.isdigit() and len(days) < 6 else days
        )
    names = [line.strip() for line in form.get("collections", "").splitlines()]
    names = [name for name in names if name]
    if names:
        body["collections"] = names
    return body


@bp.post(f"/tokens/<int(max={MAX_TOKEN_ID}):token_id>/revoke")
@requires_user("read", page=True)
def revoke_token(token_id: int) -> Any:
    """Revoke one of the caller's tokens (an admin's: anyone's)."""
    accounts.revoke_token(token_id, owner_filter(current_identity()))
    flash(f"Token {token_id} revoked: it no longer works.", "success")
    return redirect(url_for("access_api.list_tokens"), 303)


@bp.get("/users")
@requires_user("admin", page=True)
def users() -> Any:
    """Every user with their role and whether they are disabled (admins only)."""
    return render_template("access/users.html", users=accounts.list_users())
