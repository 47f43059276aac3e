"""Structured logs: one JSON line per request on stdout.

Every request's id (request_toll.py: the client's ``X-Request-ID`` when it is
well-formed, else a new one, echoed in the response) is put in every log line
written while the request runs, and in the body of a 5xx (errors.py). With
``LOG_FORMAT=json`` (production's default) each request ends with one line:
method, route template, status, duration, user and id; never a path, a query,
a header or a body, so no token, password or name of stock reaches the log.
With ``text`` gunicorn's access log does that job and the app's own lines keep
Flask's plain format.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from .request_toll import Answer, request_id, request_toll
from .settings import one_of

LOG_FORMATS = ("text", "json")
REQUESTS_LOGGER = "stockapp.requests"


def _log_request(answer: Answer) -> None:
    identity = answer.identity
    logging.getLogger(REQUESTS_LOGGER).info(
        "request",
        extra={
            "request": {
                "method": answer.method,
                "route": answer.route,
                "status": answer.status,
                "duration_ms": round(answer.seconds * 1000, 2),
                "user": None if identity is None else identity.name,
                # (A shortcut's answer has no request context to read it from.)
                "request_id": answer.request_id,
            }
        },
    )


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
        if "request_id" not in line:
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
    if log_format != "json":
        return
    handler = _StandardOutput()
    handler.setFormatter(JSONFormatter())
    requests = logging.getLogger(REQUESTS_LOGGER)
    requests.handlers[:] = [handler]
    requests.setLevel(logging.INFO)
    requests.propagate = False
    app.logger.handlers[:] = [handler]
    request_toll(app).observe(_log_request)
