"""The hottest request, a member's read, answered before Flask's dispatch.

``GET /stock/<collection>/<member>`` is most of an inventory's traffic (every
scanner and shelf display polls it). Through Flask it pays for routing, the
request context, the hooks and a Response object: about 135 µs in process
where the database's part is 14. This shortcut (request_toll.py) answers its
plain case directly: the same statement, the same access rules, the same
ETag, the same headers and observers.

It answers only a 200, and only when it is certain: a GET with no query, no
body, no cookie and no ``If-None-Match``; an ASCII path whose names pass the
name rules and that no other route takes (``/stock/<c>/history``); no
credentials with ANONYMOUS_ACCESS allowing reads, or a valid bearer token that
may read the collection, whose last use need not be recorded and with no
per-token API limit. Everything else (a bad name, a missing member, a refused
caller, a 304, a HEAD, a database error) it declines, and Flask answers it as
before: every refusal and its message stays in one place.
``tests/stock/test_member_shortcut.py`` holds its answers to Flask's, header
for header.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import Map, Rule

from ..access.identity import (
    Identity,
    anonymous_under,
    bearer_digest,
    is_stale,
    token_identity,
    token_row,
    usable,
)
from ..access.permissions import requirement_of
from ..core import driver
from ..core.clock import utcnow
from ..core.conditions import JSON_MEDIA_TYPE, bare_integer, etag
from ..core.extensions import db
from ..core.request_toll import Direct
from ..core.rules import name_problem
from .statements import MEMBER_QUANTITY, TOKEN_AND_MEMBER_QUANTITY

ENDPOINT = "api.get_member"
_OK = "200 OK"
# What makes a request other than the plain case, whatever its path.
_DECLINED_HEADERS = (
    "HTTP_COOKIE",
    "HTTP_IF_NONE_MATCH",
    "HTTP_TRANSFER_ENCODING",
)


class MemberReadShortcut:
    """Answers a plain member read, or declines (None) and Flask answers."""

    def __init__(self, app: Flask) -> None:
        rule = _rule_of(app.url_map, ENDPOINT)
        self.route = rule.rule
        self.prefix, self.taken_collections, self.taken_members = _free_paths(
            app.url_map, rule
        )
        with app.app_context():
            requirement = requirement_of(ENDPOINT)
            self.engine: Engine = db.engine
        # (A raw connection's connect raises the driver's own errors.)
        self.database_errors = (SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error)
        if requirement is None or requirement.scope is None or requirement.user:
            raise RuntimeError(f"{ENDPOINT} must declare a scope anyone may hold")
        self.scope = requirement.scope
        self.config: Mapping[str, Any] = app.config

    def __call__(self, environ: dict[str, Any]) -> Direct | None:
        names = self._names(environ)
        if names is None:
            return None
        collection, member = names
        try:
            found = self._read(environ.get("HTTP_AUTHORIZATION"), collection, member)
        except self.database_errors:
            # Flask reads again, and answers the error as every error is.
            return None
        if found is None:
            return None
        identity, quantity, version = found
        if not (identity.allows(self.scope) and identity.sees(collection)):
            return None
        body = bare_integer(quantity).encode()
        # In the order Flask's answer has them.
        headers = [
            ("ETag", etag(version)),
            ("Content-Type", JSON_MEDIA_TYPE),
            ("Content-Length", str(len(body))),
        ]
        return Direct(_OK, headers, body, self.route, identity)

    def _names(self, environ: dict[str, Any]) -> tuple[str, str] | None:
        """The collection and member of a plain read of one, else None."""
        if (
            environ["REQUEST_METHOD"] != "GET"
            or environ.get("QUERY_STRING")
            or environ.get("CONTENT_LENGTH")
            or any(header in environ for header in _DECLINED_HEADERS)
        ):
            return None
        path = environ.get("PATH_INFO", "")
        if not (path.startswith(self.prefix) and path.isascii()):
            return None
        collection, slash, member = path[len(self.prefix) :].partition("/")
        if (
            not slash
            or "/" in member
            or collection in self.taken_collections
            or member in self.taken_members
            or name_problem(collection) is not None
            or name_problem(member) is not None
        ):
            return None
        return collection, member

    def _read(
        self, authorization: str | None, collection: str, member: str
    ) -> tuple[Identity, int, int] | None:
        """Who asks, and the member's quantity and version; None to decline."""
        if authorization is None:
            identity = anonymous_under(self.config)
            if not identity.allows(self.scope):
                # Refused before anything is read (production's default).
                return None
            rows = driver.read(
                self.engine,
                MEMBER_QUANTITY,
                {"collection": collection, "member": member},
            )
            if not rows:
                return None
            return identity, rows[0].quantity, rows[0].version
        token_digest = bearer_digest(authorization)
        if token_digest is None or self.config["RATELIMIT_API"]:
            return None
        rows = driver.read(
            self.engine,
            TOKEN_AND_MEMBER_QUANTITY,
            {"digest": token_digest, "collection": collection, "member": member},
        )
        if not rows or rows[0].quantity is None:
            return None
        row = token_row(rows[0])
        # A token's refusal counts against its address, and a stale last use
        # is written: both are Flask's.
        if not usable(row) or is_stale(row, utcnow()):
            return None
        return token_identity(row), rows[0].quantity, rows[0].version


def _rule_of(url_map: Map, endpoint: str) -> Rule:
    (rule,) = (rule for rule in url_map.iter_rules() if rule.endpoint == endpoint)
    return rule


def _free_paths(url_map: Map, rule: Rule) -> tuple[str, frozenset[str], frozenset[str]]:
    """The prefix of ``rule`` ("/stock/") and the collection and member names
    another route takes at its place (a static part outranks a variable one
    in Werkzeug's routing: ``/stock/<c>/history``).

    Refuses to start (RuntimeError) if ``rule`` is not ``/<static>/<a>/<b>``,
    or if another route could take its paths by some other shape.
    """
    own = rule.rule.split("/")[1:]
    if len(own) != 3 or _is_variable(own[0]) or not all(map(_is_variable, own[1:])):
        raise RuntimeError(f"{rule.rule}: the shortcut reads /<static>/<a>/<b> only")
    taken: tuple[set[str], set[str]] = (set(), set())
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
    return f"/{own[0]}/", frozenset(taken[0]), frozenset(taken[1])


def _is_variable(part: str) -> bool:
    return part.startswith("<")
