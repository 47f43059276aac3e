"""The per-request toll in one pass: WSGI middleware around the Flask app.

Every answer, whatever made it (a view, an error handler, routing's 404),
carries the request's id and the security headers, and is told to the
observers (the metrics, and with ``LOG_FORMAT=json`` the request log). All of
it happens here, once, when the app starts its answer: adding a header is
appending a tuple to the list on its way to the server, where four Flask hooks
each went through Werkzeug's proxies and header objects. Measured in process,
that took about a seventh of a member read (22 of 156 µs).

The answer is started inside the app's request context, so the route the
request matched and who made it are still at hand.

A capability may also give the toll a **shortcut** for one route's plain case
(stock's member read, the hottest request): it answers before Flask's dispatch,
or declines (None), and Flask answers as always. Its answers pass through the
same headers and observers as every other. A shortcut whose work failed once
begun (a write) hands the error over (:class:`HandOver`): Flask then runs its
checks and answers that error as it answers every error, without running the
view, so the work is never run twice.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from flask import Flask, g, has_request_context, request

from .headers import security_headers

ID_HEADER = "X-Request-ID"
# What a client's id may be; anything else is replaced, never logged.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Where the id and the start are kept for the request (errors.py, the log).
ENVIRON_ID = "stockapp.request_id"
ENVIRON_STARTED = "stockapp.request_started"
# Where a shortcut's failure waits for Flask to answer it.
ENVIRON_HANDED_OVER = "stockapp.handed_over"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the observers are told of each answer as it starts."""

    method: str
    # The rule the request matched (``/stock/<collection>``); None: none.
    route: str | None
    status: int
    seconds: float
    # Who asked (access's Identity), None when nobody was looked up.
    identity: Any
    # The request's id (X-Request-ID).
    request_id: str


@dataclass(frozen=True, slots=True)
class Direct:
    """A shortcut's answer: what the view would have answered, and for the
    observers the route template and who asked."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes
    route: str
    identity: Any


class HandOver(Exception):
    """Raised by a shortcut whose work failed after it began: Flask answers
    ``error`` (once its own checks pass) instead of running the view."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


Observer = Callable[[Answer], None]
StartResponse = Callable[..., Any]
# Answers a request's plain case directly, or declines with None.
Shortcut = Callable[[dict[str, Any]], Direct | None]
# Builds a shortcut once every route of the app is known.
ShortcutFactory = Callable[[Flask], Shortcut]


def request_id() -> str | None:
    """This request's id (None outside a request)."""
    return request.environ.get(ENVIRON_ID) if has_request_context() else None


def _id_for(given: str | None) -> str:
    """The client's id when it is well-formed, else a new one."""
    if given is not None and _WELL_FORMED.fullmatch(given):
        return given
    return os.urandom(16).hex()


class RequestToll:
    """Wraps ``app.wsgi_app``; observers are added with :meth:`observe`."""

    def __init__(self, app: Flask) -> None:
        self.wsgi_app = app.wsgi_app
        self.https = app.config["PREFERRED_URL_SCHEME"] == "https"
        self.observers: list[Observer] = []
        self.shortcut_factories: list[ShortcutFactory] = []
        self.shortcuts: tuple[Shortcut, ...] = ()

    def observe(self, observer: Observer) -> None:
        self.observers.append(observer)

    def add_shortcut(self, factory: ShortcutFactory) -> None:
        """Have ``factory(app)`` build a shortcut once the app is complete."""
        self.shortcut_factories.append(factory)

    def build_shortcuts(self, app: Flask) -> None:
        """Build the shortcuts: called once every route is registered."""
        self.shortcuts = tuple(factory(app) for factory in self.shortcut_factories)
        if self.shortcuts:
            # The last of the app's checks: who asks is known, as is the route.
            app.before_request(_answer_handed_over)

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        started = perf_counter()
        environ[ENVIRON_STARTED] = started
        environ[ENVIRON_ID] = given_id = _id_for(environ.get("HTTP_X_REQUEST_ID"))
        for shortcut in self.shortcuts:
            try:
                direct = shortcut(environ)
            except HandOver as handed:
                environ[ENVIRON_HANDED_OVER] = handed.error
                break
            if direct is not None:
                self._finish(
                    environ, started, given_id, direct.status, direct.headers,
                    direct.route, direct.identity,
                )  # fmt: skip
                start_response(direct.status, direct.headers)
                return [direct.body]

        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            rule = identity = None
            if has_request_context():
                rule = request.url_rule
                identity = g.get("identity")
            self._finish(
                environ, started, given_id, status, headers,
                None if rule is None else rule.rule, identity,
                docs=rule is not None and rule.endpoint == "docs.docs",
            )  # fmt: skip
            return start_response(status, headers, *exc_info)

        return self.wsgi_app(environ, start)

    def _finish(
        self,
        environ: dict[str, Any],
        started: float,
        given_id: str,
        status: str,
        headers: list[tuple[str, str]],
        route: str | None,
        identity: Any,
        *,
        docs: bool = False,
    ) -> None:
        """Add the toll's headers to ``headers`` and tell the observers."""
        seconds = perf_counter() - started
        headers.extend(
            security_headers(
                headers,
                docs=docs,
                signed_in=identity is not None and identity.user_id is not None,
                https=self.https,
            )
        )
        headers.append((ID_HEADER, given_id))
        answer = Answer(
            environ["REQUEST_METHOD"],
            route,
            int(status[:3]),
            seconds,
            identity,
            given_id,
        )
        for observer in self.observers:
            observer(answer)


def _answer_handed_over() -> None:
    """Raise the error a shortcut handed over, for the error handlers."""
    error = request.environ.get(ENVIRON_HANDED_OVER)
    if error is not None:
        raise error


def init_request_toll(app: Flask) -> RequestToll:
    """Wrap ``app`` in the toll; capabilities add observers through
    :func:`request_toll`."""
    toll = RequestToll(app)
    app.wsgi_app = toll  # type: ignore[method-assign]
    app.extensions["request_toll"] = toll
    return toll


def request_toll(app: Flask) -> RequestToll:
    toll: RequestToll = app.extensions["request_toll"]
    return toll
