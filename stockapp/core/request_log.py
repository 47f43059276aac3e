"""Request ids and structured logs: one JSON line per request on stdout.

Every request gets an id: the client's ``X-Request-ID`` when it is well-formed,
else a new one. It is echoed in the response, put in every log line written
while the request runs, and in the body of a 5xx (errors.py). With
``LOG_FORMAT=json`` (production's default) each request ends with one line:
method, route template, status, duration, user and id; never a path, a query,
a header or a body, so no token, password or name of stock reaches the log.
With ``text`` gunicorn's access log does that job and the app's own lines keep
Flask's plain format.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from .settings import one_of

LOG_FORMATS = ("text", "json")
HEADER = "X-Request-ID"
# What a client's id may be; anything else is replaced, never logged.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,128}")
REQUESTS_LOGGER = "stockapp.requests"


def request_id() -> str | None:
    """This request's id (None outside a request)."""
    return g.get("request_id") if has_request_context() else None


def route_template() -> str | None:
    """The rule this request matched (``/stock/<collection>``); None: none."""
    return None if request.url_rule is None else request.url_rule.rule


def elapsed_seconds() -> float | None:
    """Seconds since this request began (None if it began before the hook)."""
    started = g.get("request_started")
    return None if started is None else time.perf_counter() - started


def _start() -> None:
    g.request_started = time.perf_counter()
    given = request.headers.get(HEADER)
    well_formed = given is not None and _WELL_FORMED.fullmatch(given)
    g.request_id = given if well_formed else uuid.uuid4().hex


def _echo(response: Response) -> Response:
    response.headers[HEADER] = g.get("request_id") or ""
    return response


def _log_request(response: Response) -> Response:
    identity = g.get("identity")
    elapsed = elapsed_seconds()
    logging.getLogger(REQUESTS_LOGGER).info(
        "request",
        extra={
            "request": {
                "method": request.method,
                "route": route_template(),
                "status": response.status_code,
                "duration_ms": None if elapsed is None else round(elapsed * 1000, 2),
                "user": None if identity is None else identity.name,
            }
        },
    )
    return response


class JSONFormatter(logging.Formatter):
    """A log record as one JSON object on one line, with the request's id."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "request", None)
        if fields is not None:
            line.update(fields)
        else:
            line["message"] = record.getMessage()
        line["request_id"] = request_id()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class _StandardOutput(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a line is written."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def init_request_log(app: Flask) -> None:
    """Give every request an id and, with LOG_FORMAT=json, log it as JSON."""
    log_format = one_of(app, "LOG_FORMAT", LOG_FORMATS)
    app.before_request(_start)
    app.after_request(_echo)
    if log_format != "json":
        return
    handler = _StandardOutput()
    handler.setFormatter(JSONFormatter())
    requests = logging.getLogger(REQUESTS_LOGGER)
    requests.handlers[:] = [handler]
    requests.setLevel(logging.INFO)
    requests.propagate = False
    app.logger.handlers[:] = [handler]
    app.after_request(_log_request)
