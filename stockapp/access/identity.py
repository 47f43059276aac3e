"""Who is calling: loaded once per request, from a bearer token, a session or none."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from flask import current_app, g, request
from flask_login import UserMixin, current_user
from sqlalchemy import (
    Integer,
    Text,
    bindparam,
    cast,
    or_,
    select,
    type_coerce,
    update,
)

from ..core.clock import utcnow
from ..core.database import read, write_connection, write_transaction
from ..core.errors import Problem
from ..core.extensions import login_manager
from . import limits
from .models import ApiToken, User
from .scopes import ROLE_SCOPE, includes, narrower
from .token_secrets import digest, looks_like_a_token

REALM = 'Bearer realm="stockapp"'
# last_used_at is written at most this often per token, so reads stay reads.
LAST_USED_PRECISION = timedelta(minutes=1)
# How many tokens' stored states a process keeps converted (checked_token):
# one per token in use, and one more each time its last use is recorded.
TOKENS_KEPT_CONVERTED = 1024
# How many distinct Authorization headers a process keeps digested
# (bearer_digest): one per client in use, as many again for the tokens tried.
HEADERS_KEPT_DIGESTED = 1024


# Built once: every request with a token runs it (a hot path). The columns whose
# types SQLite's dialect would convert (JSON, DateTime, Boolean) come as stored,
# so the statement runs on the driver's cursor (core/driver.py) rather than
# through Core, about twice as fast; checked_token converts them. The JSON
# and the moments come as their text on both backends (psycopg would parse
# them into a list and datetimes, about 15 µs of a worker's CPU a request), so
# that a row's values are a cheap key of the conversions' cache.
TOKEN_BY_DIGEST = (
    select(
        ApiToken.id,
        ApiToken.scope,
        cast(ApiToken.collections, Text).label("collections"),
        cast(ApiToken.expires_at, Text).label("expires_at"),
        cast(ApiToken.revoked_at, Text).label("revoked_at"),
        cast(ApiToken.last_used_at, Text).label("last_used_at"),
        User.id.label("user_id"),
        User.name,
        User.role,
        type_coerce(User.disabled, Integer).label("disabled"),
    )
    .join(User, ApiToken.user_id == User.id)
    .where(ApiToken.digest == bindparam("digest"))
)


class TokenRow(NamedTuple):
    """A token and its user, as the checks need them."""

    id: int
    scope: str
    collections: list[str] | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    user_id: int
    name: str
    role: str
    disabled: bool


_SESSION_USER = select(User.id, User.name, User.role, User.session_epoch).where(
    User.id == bindparam("user_id"),
    User.session_epoch == bindparam("epoch"),
    User.disabled.is_(False),
)


@dataclass(frozen=True)
class Identity:
    """The caller of this request: a user (by token or session) or anonymous."""

    user_id: int | None
    name: str | None
    role: str | None
    # The widest scope this request may use; None: none at all.
    scope: str | None
    token_id: int | None = None
    # The collections a limited token may see; None: every collection.
    collections: frozenset[str] | None = None
    # When the token stops working; None: never (or not a token).
    expires_at: datetime | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None

    def allows(self, scope: str) -> bool:
        return includes(self.scope, scope)

    def sees(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections


@dataclass(frozen=True)
class SessionUser(UserMixin):
    """What Flask-Login keeps for a logged-in browser: a plain copy, not a row."""

    id: int
    name: str
    role: str
    session_epoch: int

    def get_id(self) -> str:
        # What the session cookie keeps: the user and the epoch it was made in.
        return f"{self.id}.{self.session_epoch}"


def current_identity() -> Identity:
    """The identity ``load_identity`` found for this request."""
    return g.identity


def actor() -> str | None:
    """The name the movement log records for this request (None: anonymous)."""
    return current_identity().name


def anonymous() -> Identity:
    """A caller without credentials, with what ANONYMOUS_ACCESS lets it do."""
    return anonymous_under(current_app.config)


def anonymous_under(config: Mapping[str, Any]) -> Identity:
    """The anonymous caller under the app's settings ``config``."""
    return _ANONYMOUS[config["ANONYMOUS_ACCESS"]]


_ANONYMOUS = {
    level: Identity(None, None, None, None if level == "none" else level)
    for level in ("none", "read", "write")
}


def invalid_token() -> Problem:
    """The one answer to every token that cannot be used, whatever the reason."""
    return Problem(
        401,
        "Invalid token",
        "The bearer token is not valid (unknown, expired or revoked, or its user"
        " is disabled).",
        headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
    )


def load_identity(*, accepts_session: bool) -> Identity:
    """The caller: a presented token is always checked; else the session; else none."""
    header = request.headers.get("Authorization")
    if header is not None:
        return _from_token(header)
    if accepts_session and current_user.is_authenticated:
        return _from_session(current_user)
    return anonymous()


# A pure function of the header, computed once per header and process: in a
# worker, between the database's work and the rest, its regular expression
# and SHA-256 cost a token's read about 9 µs, half of what a token adds to an
# anonymous read (docs/performance.md). Every request still reads the token's
# row, so a revoked or expired token is refused as before. The price: a
# worker holds its last HEADERS_KEPT_DIGESTED headers' secrets in memory (as
# it holds each while its request lasts), never written anywhere.
@lru_cache(maxsize=HEADERS_KEPT_DIGESTED)
def bearer_digest(header: str) -> str | None:
    """The digest of the token an ``Authorization`` header presents, or None
    when it presents none of the form this app gives out."""
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() == "bearer" and looks_like_a_token(secret):
        return digest(secret)
    return None


def _from_token(header: str) -> Identity:
    token_digest = bearer_digest(header)
    checked = None if token_digest is None else _checked_token(token_digest)
    if checked is None or not usable(checked[0]):
        # Only failures count, once known: a valid token is never refused for
        # the bad ones others sent from its address (one NAT, one proxy), and a
        # valid request costs no counter round trip. The price: past the limit
        # a bad token is still looked up (one indexed read) before its 429.
        limits.take_one("RATELIMIT_BAD_TOKENS", "bad-token", limits.client_address())
        raise invalid_token()
    row, identity = checked
    _touch(row)
    if current_app.config["RATELIMIT_API"]:
        limits.take_one("RATELIMIT_API", "api", str(row.id))
    return identity


def token_identity(row: TokenRow) -> Identity:
    """The caller a usable token makes."""
    return Identity(
        row.user_id,
        row.name,
        row.role,
        # A token never does more than its user's role allows now.
        narrower(row.scope, ROLE_SCOPE[row.role]),
        row.id,
        None if row.collections is None else frozenset(row.collections),
        row.expires_at,
    )


def _checked_token(token_digest: str) -> tuple[TokenRow, Identity] | None:
    rows = read(TOKEN_BY_DIGEST, digest=token_digest)
    return checked_token(rows[0]) if rows else None


_TOKEN_COLUMNS = len(TokenRow._fields)


def checked_token(row: Any) -> tuple[TokenRow, Identity]:
    """A row starting with TOKEN_BY_DIGEST's columns (as stored) as the checks
    need it, and the caller the token makes if it is usable now (``usable``
    and ``is_stale`` are the checks that depend on the time, left to the caller).
    """
    return _converted(tuple(row[:_TOKEN_COLUMNS]))


# Converted once per stored state, not on every request: the key is every
# column as read, so a token revoked, expired, limited or recorded as used, or
# its user disabled, renamed or given another role, is another key, converted
# afresh. The values are immutable, shared by the requests.
@lru_cache(maxsize=TOKENS_KEPT_CONVERTED)
def _converted(stored: tuple[Any, ...]) -> tuple[TokenRow, Identity]:
    row = TokenRow._make(stored)
    token = row._replace(
        collections=None if row.collections is None else json.loads(row.collections),
        expires_at=_moment(row.expires_at),
        revoked_at=_moment(row.revoked_at),
        last_used_at=_moment(row.last_used_at),
        disabled=bool(row.disabled),
    )
    return token, token_identity(token)


def _moment(stored: str | None) -> datetime | None:
    """A DateTime column's text, aware UTC: SQLite's as stored (naive UTC), or
    PostgreSQL's in the session's time zone (``+00``, ``+05:30``)."""
    if stored is None:
        return None
    at = datetime.fromisoformat(stored)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def as_utc(at: datetime | None) -> datetime | None:
    """``at`` as an aware UTC datetime (SQLite hands back naive UTC ones)."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=UTC)


def usable(row: TokenRow) -> bool:
    """Whether the token may be used now: its user enabled, not revoked or expired."""
    return (
        not row.disabled
        and row.revoked_at is None
        and (row.expires_at is None or row.expires_at > utcnow())
    )


def _touch(row: TokenRow) -> None:
    """Record the token's use, at most once a minute (one guarded UPDATE)."""
    now = utcnow()
    if not is_stale(row, now):
        return
    with write_transaction():
        write_connection().execute(
            update(ApiToken)
            .where(
                ApiToken.id == row.id,
                or_(
                    ApiToken.last_used_at.is_(None),
                    ApiToken.last_used_at < now - LAST_USED_PRECISION,
                ),
            )
            .values(last_used_at=now)
        )


def is_stale(row: TokenRow, now: datetime) -> bool:
    """Whether the token's last use recorded is older than LAST_USED_PRECISION."""
    last_used_at = row.last_used_at
    return last_used_at is None or now - last_used_at >= LAST_USED_PRECISION


def _from_session(user: SessionUser) -> Identity:
    return Identity(user.id, user.name, user.role, ROLE_SCOPE[user.role])


@login_manager.user_loader
def _load_session_user(session_id: str) -> SessionUser | None:
    """The session's user, unless it was disabled since (then the session ends)."""
    user_id, _, epoch = session_id.partition(".")
    if not (user_id.isdigit() and epoch.isdigit()):
        return None
    rows = read(_SESSION_USER, user_id=int(user_id), epoch=int(epoch))
    return SessionUser(*rows[0]) if rows else None
