"""The hottest write, a merge patch of one collection (``PATCH
/stock/<collection>``), answered before Flask's dispatch.

A till or a scanner sets a few quantities at a time, and through Flask each
write paid about 240 µs in process for routing, the request context, the hooks
and a Response, beside its unit of work (150 µs on SQLite before the commit's
fsync). This shortcut (request_toll.py) runs the same unit of work,
``units.update_collection``, in an app context of its own, with the same body
rules, access rules and answer.

It answers only when it is certain: a PATCH with no query, cookie,
precondition (``If-Match``, ``If-None-Match``) or ``Idempotency-Key``; a JSON
body of declared length within MAX_CONTENT_LENGTH (and 64 KiB) that passes the
body rules; an ASCII path whose name passes the name rules and that no other
route takes; and a caller as the member read's shortcut takes them (no
credentials under an ANONYMOUS_ACCESS that allows writes, or a usable bearer
token whose use need not be written or counted) who may write the
collection. Everything else it declines, after putting back the body it read,
and Flask answers it as before.

Once the unit of work has begun, its failure (a 503 after conflicting writes,
a database error) is handed over to Flask (request_toll.HandOver), which
answers it as every error is answered, without running the write again.
``tests/stock/test_merge_shortcut.py`` holds its answers to Flask's, header
for header, and the stored state to Flask's.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Flask, g
from werkzeug.exceptions import HTTPException

from ..core.conditions import JSON_MEDIA_TYPE, etag
from ..core.errors import Problem
from ..core.request_toll import Direct, HandOver
from ..core.rules import MalformedJSON, ValidationError, parse_json, stock_body
from . import units
from .api import COLLECTION_CREATED, COLLECTION_UPDATED, message_json
from .shortcuts import (
    DECLINED_HEADERS,
    Callers,
    RoutePaths,
    database_errors,
    declared_scope,
)

ENDPOINT = "api.update_collection"
# Where a created collection is (Location), as the view says.
CREATED_ENDPOINT = "api.get_collection"
# The largest body the shortcut reads itself: a bigger one is Flask's.
MAX_BODY = 64 * 1024
_MEDIA_TYPES = frozenset({JSON_MEDIA_TYPE, "application/merge-patch+json"})
_DECLINED = (*DECLINED_HEADERS, "HTTP_IDEMPOTENCY_KEY")
_ANSWERS = {
    False: ("200 OK", message_json(COLLECTION_UPDATED).encode()),
    True: ("201 CREATED", message_json(COLLECTION_CREATED).encode()),
}


class MergePatchShortcut:
    """Answers a plain merge patch of a collection, or declines (None) and
    Flask answers."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.paths = RoutePaths(app.url_map, ENDPOINT)
        self.callers = Callers(app, declared_scope(app, ENDPOINT))
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

    def __call__(self, environ: dict[str, Any]) -> Direct | None:
        names = self._names(environ)
        if names is None:
            return None
        (collection,) = names
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
        changes = self._changes(environ)
        if changes is None:
            return None
        try:
            with self.app.app_context():
                g.identity = identity
                written = units.update_collection(collection, changes, by=identity.name)
        except self.failures as error:
            raise HandOver(error) from error
        status, body = _ANSWERS[written.created]
        # In the order Flask's answer has them.
        headers = [
            ("Content-Type", JSON_MEDIA_TYPE),
            ("Content-Length", str(len(body))),
            ("ETag", etag(written.version)),
        ]
        if written.created:
            location = self.app.url_map.bind_to_environ(environ).build(
                CREATED_ENDPOINT, {"collection": collection}
            )
            headers.append(("Location", location))
        return Direct(status, headers, body, self.paths.route, identity)

    def _names(self, environ: dict[str, Any]) -> tuple[str, ...] | None:
        """The collection of a plain merge patch, else None."""
        if (
            environ["REQUEST_METHOD"] != "PATCH"
            or environ.get("QUERY_STRING")
            or any(header in environ for header in _DECLINED)
        ):
            return None
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if mimetype not in _MEDIA_TYPES:
            return None
        return self.paths.names(environ.get("PATH_INFO", ""))

    def _changes(self, environ: dict[str, Any]) -> dict[str, int | None] | None:
        """The body's changes if they pass the rules, else None; the body is
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
            return stock_body(parse_json(raw), allow_null=True)
        except (MalformedJSON, ValidationError):
            return None
