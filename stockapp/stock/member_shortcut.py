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
for header. What it shares with the other shortcuts is in shortcuts.py.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from ..access.identity import Identity
from ..core import driver
from ..core.conditions import JSON_MEDIA_TYPE, bare_integer, etag
from ..core.request_toll import Direct
from .shortcuts import (
    DECLINED_HEADERS,
    Callers,
    RoutePaths,
    database_errors,
    declared_scope,
)
from .statements import MEMBER_QUANTITY, TOKEN_AND_MEMBER_QUANTITY

ENDPOINT = "api.get_member"
_OK = "200 OK"


class MemberReadShortcut:
    """Answers a plain member read, or declines (None) and Flask answers."""

    def __init__(self, app: Flask) -> None:
        self.paths = RoutePaths(app.url_map, ENDPOINT)
        self.callers = Callers(app, declared_scope(app, ENDPOINT))
        self.engine = self.callers.engine
        self.database_errors = database_errors(self.engine)

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
        if not identity.sees(collection):
            return None
        body = bare_integer(quantity).encode()
        # In the order Flask's answer has them.
        headers = [
            ("ETag", etag(version)),
            ("Content-Type", JSON_MEDIA_TYPE),
            ("Content-Length", str(len(body))),
        ]
        return Direct(_OK, headers, body, self.paths.route, identity)

    def _names(self, environ: dict[str, Any]) -> tuple[str, ...] | None:
        """The collection and member of a plain read of one, else None."""
        if (
            environ["REQUEST_METHOD"] != "GET"
            or environ.get("QUERY_STRING")
            or environ.get("CONTENT_LENGTH")
            or any(header in environ for header in DECLINED_HEADERS)
        ):
            return None
        return self.paths.names(environ.get("PATH_INFO", ""))

    def _read(
        self, authorization: str | None, collection: str, member: str
    ) -> tuple[Identity, int, int] | None:
        """Who asks, and the member's quantity and version; None to decline."""
        if authorization is None:
            identity = self.callers.anonymous()
            if identity is None:
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
        token_digest = self.callers.token_digest(authorization)
        if token_digest is None:
            return None
        rows = driver.read(
            self.engine,
            TOKEN_AND_MEMBER_QUANTITY,
            {"digest": token_digest, "collection": collection, "member": member},
        )
        if not rows or rows[0].quantity is None:
            return None
        # A token's refusal counts against its address, and a stale last use
        # is written: both are Flask's.
        identity = self.callers.by_token_row(rows[0])
        if identity is None:
            return None
        return identity, rows[0].quantity, rows[0].version
