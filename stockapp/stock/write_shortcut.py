"""The hottest writes, answered before Flask's dispatch: a merge patch of one
collection (``PATCH /stock/<collection>``) and a member's new quantity (``PUT
/stock/<collection>/<member>``).

A till or a scanner sets a few quantities at a time, and through Flask each
write paid about 240 µs in process for routing, the request context, the hooks
and a Response, beside its unit of work (150 µs on SQLite before the commit's
fsync). A shortcut (request_toll.py) runs the same unit of work (``units``), in
an app context of its own, with the same body rules, access rules and answer.

It answers only when it is certain: its method with no query, cookie,
precondition (``If-Match``, ``If-None-Match``) or ``Idempotency-Key``; a JSON
body of declared length within MAX_CONTENT_LENGTH (and 64 KiB) that passes the
body rules; an ASCII path whose names pass the name rules and that no other
route takes; and a caller as the member read's shortcut takes them (no
credentials under an ANONYMOUS_ACCESS that allows writes, or a usable bearer
token whose use need not be written or counted) who may write the collection.
Everything else it declines, after putting back the body it read, and Flask
answers it as before.

Once the unit of work has begun, its failure (a 503 after conflicting writes,
a database error) is handed over to Flask (request_toll.HandOver), which
answers it as every error is answered, without running the write again.
``tests/stock/test_write_shortcuts.py`` holds their answers to Flask's, header
for header, and the stored state to Flask's.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Flask, g
from werkzeug.exceptions import HTTPException

from ..access.identity import Identity
from ..core.conditions import JSON_MEDIA_TYPE, etag
from ..core.errors import Problem
from ..core.request_toll import Direct, HandOver
from ..core.rules import (
    MalformedJSON,
    ValidationError,
    parse_json,
    quantity_body,
    stock_body,
)
from . import units
from .api import (
    COLLECTION_CREATED,
    COLLECTION_UPDATED,
    MEMBER_CREATED,
    MEMBER_REPLACED,
    message_json,
)
from .shortcuts import (
    DECLINED_HEADERS,
    Callers,
    RoutePaths,
    database_errors,
    declared_scope,
)

# The largest body a shortcut reads itself: a bigger one is Flask's.
MAX_BODY = 64 * 1024
_DECLINED = (*DECLINED_HEADERS, "HTTP_IDEMPOTENCY_KEY")


def _answers(updated: str, created: str) -> dict[bool, tuple[str, bytes]]:
    """The status line and body of a write, by whether it created."""
    return {
        False: ("200 OK", message_json(updated).encode()),
        True: ("201 CREATED", message_json(created).encode()),
    }


class WriteShortcut:
    """Answers a plain write of its route, or declines (None) and Flask
    answers. A kind says which route, which bodies, and which unit of work."""

    METHOD: str
    ENDPOINT: str
    # Where a created resource is (Location), as the view says.
    CREATED_ENDPOINT: str
    MEDIA_TYPES: frozenset[str]
    ANSWERS: dict[bool, tuple[str, bytes]]

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.paths = RoutePaths(app.url_map, self.ENDPOINT)
        self.callers = Callers(app, declared_scope(app, self.ENDPOINT))
        self.database_errors = database_errors(self.callers.engine)
        # What the unit of work may raise that Flask's error handlers answer.
        self.failures = (
            Problem,
            ValidationError,
            HTTPException,
            *self.database_errors,
        )
        limit = app.config["MAX_CONTENT_LENGTH"]
        self.max_body = MAX_BODY if limit is None else min(limit, MAX_BODY)

    def body(self, parsed: Any) -> Any:
        """The write the parsed JSON body asks for; ValidationError if it
        breaks the body rules."""
        raise NotImplementedError

    def write(self, names: tuple[str, ...], body: Any, by: str | None) -> Any:
        """Run the unit of work; its ``units.Written``."""
        raise NotImplementedError

    def __call__(self, environ: dict[str, Any]) -> Direct | None:
        names = self._names(environ)
        if names is None:
            return None
        identity = self._identity(environ, names[0])
        if identity is None:
            return None
        body = self._body(environ)
        if body is None:
            return None
        try:
            with self.app.app_context():
                g.identity = identity
                written = self.write(names, body, identity.name)
        except self.failures as error:
            raise HandOver(error) from error
        status, answer = self.ANSWERS[written.created]
        # In the order Flask's answer has them.
        headers = [
            ("Content-Type", JSON_MEDIA_TYPE),
            ("Content-Length", str(len(answer))),
            ("ETag", etag(written.version)),
        ]
        if written.created:
            where = dict(zip(self.paths.variables, names, strict=True))
            location = self.app.url_map.bind_to_environ(environ).build(
                self.CREATED_ENDPOINT, where
            )
            headers.append(("Location", location))
        return Direct(status, headers, answer, self.paths.route, identity)

    def _names(self, environ: dict[str, Any]) -> tuple[str, ...] | None:
        """The names in the path of a plain write, else None."""
        if (
            environ["REQUEST_METHOD"] != self.METHOD
            or environ.get("QUERY_STRING")
            or any(header in environ for header in _DECLINED)
        ):
            return None
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if mimetype not in self.MEDIA_TYPES:
            return None
        return self.paths.names(environ.get("PATH_INFO", ""))

    def _identity(self, environ: dict[str, Any], collection: str) -> Identity | None:
        """The caller, if the shortcut may write ``collection`` for it."""
        authorization = environ.get("HTTP_AUTHORIZATION")
        try:
            identity = (
                self.callers.anonymous()
                if authorization is None
                else self.callers.by_token(authorization)
            )
        except self.database_errors:
            # Nothing is written yet: Flask looks the caller up again.
            return None
        if identity is None or not identity.sees(collection):
            return None
        return identity

    def _body(self, environ: dict[str, Any]) -> Any:
        """The body's write if it passes the rules, else None; the body is
        put back for Flask either way."""
        declared = environ.get("CONTENT_LENGTH", "")
        if not (declared.isascii() and declared.isdigit()):
            return None
        length = int(declared)
        if not 0 < length <= self.max_body:
            return None
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)
        if len(raw) != length:
            # The client stopped short: Flask says so.
            return None
        try:
            return self.body(parse_json(raw))
        except (MalformedJSON, ValidationError):
            return None


class MergePatchShortcut(WriteShortcut):
    """``PATCH /stock/<collection>``: each member in the body set, null removes."""

    METHOD = "PATCH"
    ENDPOINT = "api.update_collection"
    CREATED_ENDPOINT = "api.get_collection"
    MEDIA_TYPES = frozenset({JSON_MEDIA_TYPE, "application/merge-patch+json"})
    ANSWERS = _answers(COLLECTION_UPDATED, COLLECTION_CREATED)

    def body(self, parsed: Any) -> dict[str, int | None]:
        return stock_body(parsed, allow_null=True)

    def write(
        self, names: tuple[str, ...], body: dict[str, int | None], by: str | None
    ) -> Any:
        (collection,) = names
        return units.update_collection(collection, body, by=by)


class PutMemberShortcut(WriteShortcut):
    """``PUT /stock/<collection>/<member>``: the member's quantity, the member
    created if it is not there (the collection must be)."""

    METHOD = "PUT"
    ENDPOINT = "api.put_member"
    CREATED_ENDPOINT = "api.get_member"
    MEDIA_TYPES = frozenset({JSON_MEDIA_TYPE})
    ANSWERS = _answers(MEMBER_REPLACED, MEMBER_CREATED)

    def body(self, parsed: Any) -> int:
        return quantity_body(parsed)

    def write(self, names: tuple[str, ...], body: int, by: str | None) -> Any:
        collection, member = names
        return units.put_member(collection, member, body, by=by)
