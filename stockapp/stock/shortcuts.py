"""What the stock's shortcuts (request_toll.py) share: which paths are theirs,
the declared scope of their route, and who asks when a bearer token does.

A shortcut answers one route's plain case before Flask's dispatch and declines
(None) everything else, so Flask keeps every refusal and its message. These
helpers decide the two things each must be sure of before it answers: that no
other route takes the path, and that the caller may do what the route
declares, as ``access.permissions.authorize`` would decide it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import Map, Rule

from ..access.identity import (
    TOKEN_BY_DIGEST,
    Identity,
    anonymous_under,
    bearer_digest,
    checked_token,
    is_stale,
    usable,
)
from ..access.permissions import requirement_of
from ..core import driver
from ..core.clock import utcnow
from ..core.extensions import db
from ..core.rules import name_problem

# What makes a request other than the plain case, whatever its path: a cookie
# (a signed-in browser's session is Flask's), a precondition (a 304 or 412),
# a chunked body.
DECLINED_HEADERS = (
    "HTTP_COOKIE",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MATCH",
    "HTTP_TRANSFER_ENCODING",
)


class RoutePaths:
    """The paths of one route ``/<static>/<a>[/<b>]`` that are its alone: its
    names split from a path, or None for any path another route could take
    or whose names break the name rules."""

    def __init__(self, url_map: Map, endpoint: str) -> None:
        rule = rule_of(url_map, endpoint)
        self.route = rule.rule
        self.prefix, self.taken = free_paths(url_map, rule)
        # The route's variables, in the path's order ("collection", "member").
        self.variables = tuple(
            part.strip("<>").rpartition(":")[2] for part in rule.rule.split("/")[2:]
        )

    def names(self, path: str) -> tuple[str, ...] | None:
        if not (path.startswith(self.prefix) and path.isascii()):
            return None
        names = tuple(path[len(self.prefix) :].split("/"))
        if len(names) != len(self.taken):
            return None
        for name, taken in zip(names, self.taken, strict=True):
            if name in taken or name_problem(name) is not None:
                return None
        return names


def rule_of(url_map: Map, endpoint: str) -> Rule:
    (rule,) = (rule for rule in url_map.iter_rules() if rule.endpoint == endpoint)
    return rule


def free_paths(url_map: Map, rule: Rule) -> tuple[str, tuple[frozenset[str], ...]]:
    """The prefix of ``rule`` ("/stock/") and, for each of its variable parts,
    the names another route takes at that place (a static part outranks a
    variable one in Werkzeug's routing: ``/stock/<c>/history``).

    Refuses to start (RuntimeError) unless ``rule`` is ``/<static>/<a>`` or
    ``/<static>/<a>/<b>``, or if another route could take its paths by some
    other shape.
    """
    own = rule.rule.split("/")[1:]
    if (
        len(own) not in (2, 3)
        or _is_variable(own[0])
        or not all(map(_is_variable, own[1:]))
    ):
        raise RuntimeError(
            f"{rule.rule}: a shortcut takes /<static>/<a> or /<static>/<a>/<b> only"
        )
    taken: list[set[str]] = [set() for _ in own[1:]]
    for other in url_map.iter_rules():
        parts = other.rule.split("/")[1:]
        if other.rule == rule.rule or not (
            parts[0] == own[0] or _is_variable(parts[0])
        ):
            continue
        if "<path:" in other.rule:
            raise RuntimeError(f"{other.rule} may take the paths of {rule.rule}")
        if len(parts) != len(own):
            continue
        statics = [
            (position, part)
            for position, part in enumerate(parts[1:])
            if not _is_variable(part)
        ]
        if not statics:
            raise RuntimeError(f"{other.rule} may take the paths of {rule.rule}")
        for position, part in statics:
            taken[position].add(part)
    return f"/{own[0]}/", tuple(frozenset(names) for names in taken)


def _is_variable(part: str) -> bool:
    return part.startswith("<")


def declared_scope(app: Flask, endpoint: str) -> str:
    """The scope ``endpoint`` declares, which a token or anonymous access may
    grant to an API call; RuntimeError for any other requirement (a shortcut
    could not honour it)."""
    with app.app_context():
        requirement = requirement_of(endpoint)
    if (
        requirement is None
        or requirement.scope is None
        or requirement.user
        or requirement.page
        or requirement.negotiated
        or requirement.public_when is not None
    ):
        raise RuntimeError(f"{endpoint} must declare a scope anyone may hold")
    return requirement.scope


def database_errors(engine: Engine) -> tuple[type[BaseException], ...]:
    """What a failed statement raises (a raw connection's connect raises the
    driver's own errors)."""
    return (SQLAlchemyError, engine.dialect.loaded_dbapi.Error)


class Callers:
    """Who asks, as access.identity would find it, in the cases a shortcut
    takes: no credentials, or a usable bearer token whose use need not be
    written or counted. None declines: a refusal, a first use to record, a
    per-token limit to count are all Flask's."""

    def __init__(self, app: Flask, scope: str) -> None:
        self.scope = scope
        self.config: Mapping[str, Any] = app.config
        with app.app_context():
            self.engine: Engine = db.engine

    def anonymous(self) -> Identity | None:
        """The caller without credentials, if it may use the route's scope."""
        identity = anonymous_under(self.config)
        return identity if identity.allows(self.scope) else None

    def token_digest(self, authorization: str) -> str | None:
        """The digest of a bearer token the shortcut may check, else None."""
        if self.config["RATELIMIT_API"]:
            return None
        return bearer_digest(authorization)

    def by_token_row(self, row: Any) -> Identity | None:
        """The caller a token's row (TOKEN_BY_DIGEST's columns) makes, if it
        may use the route's scope without anything written."""
        token, identity = checked_token(row)
        if not usable(token) or is_stale(token, utcnow()):
            return None
        return identity if identity.allows(self.scope) else None

    def by_token(self, authorization: str) -> Identity | None:
        """The caller a bearer token makes, read in one statement."""
        token_digest = self.token_digest(authorization)
        if token_digest is None:
            return None
        rows = driver.read(self.engine, TOKEN_BY_DIGEST, {"digest": token_digest})
        return self.by_token_row(rows[0]) if rows else None
