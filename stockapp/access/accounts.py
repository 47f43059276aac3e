"""The units of work on users and tokens, shared by the CLI and the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ..core.clock import utc_text, utcnow
from ..core.database import write_connection, write_transaction
from ..core.errors import Problem
from ..core.extensions import db
from ..core.rules import ValidationError
from .models import ApiToken, User
from .passwords import hash_password
from .scopes import ROLE_SCOPE, covered_by
from .token_secrets import digest, new_secret
from .validation import TokenRequest, user_fields

# The errors of these units of work, shared by their answers and the API document.
USER_NOT_FOUND = "User not found"
TOKEN_NOT_FOUND = "Token not found"


class NewToken(NamedTuple):
    """A token just made: its description, and its secret (shown this once)."""

    token: dict[str, Any]
    secret: str


def _no_user(name: str) -> Problem:
    return Problem(404, USER_NOT_FOUND, f'There is no user "{name}".')


def _no_token(token_id: int) -> Problem:
    return Problem(404, TOKEN_NOT_FOUND, f"There is no active token {token_id}.")


def create_user(name: str, role: str, password: str) -> None:
    """Store a new user; 409 if the name is taken."""
    user_fields(name, role, password)
    password_hash = hash_password(password)
    try:
        with write_transaction():
            write_connection().execute(
                insert(User).values(
                    name=name,
                    role=role,
                    password_hash=password_hash,
                    created_at=utcnow(),
                )
            )
    except IntegrityError:
        raise Problem(
            409, "User already exists", f'A user named "{name}" already exists.'
        ) from None


def list_users() -> list[dict[str, Any]]:
    """Every user, oldest first."""
    rows = db.session.execute(
        select(User.name, User.role, User.disabled, User.created_at).order_by(User.id)
    )
    return [
        {
            "name": row.name,
            "role": row.role,
            "disabled": row.disabled,
            "created_at": utc_text(row.created_at),
        }
        for row in rows
    ]


def _update_user(name: str, **values: Any) -> None:
    with write_transaction():
        changed = (
            write_connection()
            .execute(
                update(User)
                .where(User.name == name)
                .values(**values)
                .returning(User.id)
            )
            .scalar_one_or_none()
        )
        if changed is None:
            raise _no_user(name)


def set_role(name: str, role: str) -> None:
    """Give user ``name`` the role ``role``; its tokens narrow to it at once."""
    user_fields(name, role)
    _update_user(name, role=role)


def set_disabled(name: str, disabled: bool) -> None:
    """Disable (or enable again) user ``name``: its tokens and sessions stop at once.

    Disabling also ends its sessions for good: enabling it again does not bring
    back a session cookie from before.
    """
    if disabled:
        _update_user(name, disabled=True, session_epoch=User.session_epoch + 1)
    else:
        _update_user(name, disabled=False)


def create_token(request: TokenRequest, owner: str) -> NewToken:
    """Make a token for user ``owner`` no wider than its role; the secret once."""
    secret = new_secret()
    now = utcnow()
    expires_at = (
        None
        if request.expires_in_days is None
        else now + timedelta(days=request.expires_in_days)
    )
    with write_transaction():
        user = (
            write_connection()
            .execute(select(User.id, User.role).where(User.name == owner))
            .one_or_none()
        )
        if user is None:
            raise _no_user(owner)
        held = covered_by(ROLE_SCOPE[user.role])
        if request.scope not in held:
            raise ValidationError(
                {"scope": f"must be one a {user.role} may hold: {', '.join(held)}"}
            )
        values = {
            "user_id": user.id,
            "label": request.label,
            "scope": request.scope,
            "digest": digest(secret),
            "collections": None
            if request.collections is None
            else list(request.collections),
            "created_at": now,
            "expires_at": expires_at,
        }
        token_id = (
            write_connection()
            .execute(insert(ApiToken).values(**values).returning(ApiToken.id))
            .scalar_one()
        )
    token = {
        "id": token_id,
        "user": owner,
        "label": request.label,
        "scope": request.scope,
        "collections": values["collections"],
        "created_at": utc_text(now),
        "expires_at": _text_or_none(expires_at),
        "last_used_at": None,
        "revoked_at": None,
    }
    return NewToken(token, secret)


def _text_or_none(at: datetime | None) -> str | None:
    return None if at is None else utc_text(at)


def _token_query():
    return select(
        ApiToken.id,
        User.name.label("user"),
        ApiToken.label,
        ApiToken.scope,
        ApiToken.collections,
        ApiToken.created_at,
        ApiToken.expires_at,
        ApiToken.last_used_at,
        ApiToken.revoked_at,
    ).join(User, ApiToken.user_id == User.id)


def _token_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "user": row.user,
        "label": row.label,
        "scope": row.scope,
        "collections": row.collections,
        "created_at": utc_text(row.created_at),
        "expires_at": _text_or_none(row.expires_at),
        "last_used_at": _text_or_none(row.last_used_at),
        "revoked_at": _text_or_none(row.revoked_at),
    }


def list_tokens(user_id: int | None = None) -> list[dict[str, Any]]:
    """The tokens of user ``user_id`` (None: everyone's), oldest first; no secrets."""
    query = _token_query().order_by(ApiToken.id)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return [_token_json(row) for row in db.session.execute(query)]


def get_token(token_id: int, user_id: int | None = None) -> dict[str, Any]:
    """One token of user ``user_id`` (None: anyone's), or 404."""
    query = _token_query().where(ApiToken.id == token_id)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    row = db.session.execute(query).one_or_none()
    if row is None:
        raise Problem(404, TOKEN_NOT_FOUND, f"There is no token {token_id}.")
    return _token_json(row)


def revoke_token(token_id: int, user_id: int | None = None) -> None:
    """Revoke an active token of user ``user_id`` (None: anyone's), or 404."""
    with write_transaction():
        query = (
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .returning(ApiToken.id)
        )
        if user_id is not None:
            query = query.where(ApiToken.user_id == user_id)
        if write_connection().execute(query).scalar_one_or_none() is None:
            raise _no_token(token_id)
