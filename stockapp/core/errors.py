"""One place that turns every failure into an RFC 9457 problem+json body.

Besides the RFC's ``type``, ``title``, ``status`` and ``detail``, each body keeps the
tutorial's ``error`` key, which older clients read.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, render_template
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from .extensions import db
from .request_toll import request_id
from .rules import ValidationError

PROBLEM_MEDIA_TYPE = "application/problem+json"
# The 503s any request can meet, shared by the answers and the API document.
NOT_MIGRATED = "Database not migrated"
DATABASE_BUSY = "Database busy"
DATABASE_UNAVAILABLE = "Database unavailable"

# The tutorial's message for each status raised by routing or by Werkzeug.
_MESSAGES = {404: "Not found"}

# How each database reports a table or column that is not there (SQLite's
# message, PostgreSQL's SQLSTATE undefined_table and undefined_column).
_MISSING_SCHEMA_MESSAGES = ("no such table", "no such column")
_MISSING_SCHEMA_SQLSTATES = ("42P01", "42703")
# PostgreSQL's disk_full.
_DISK_FULL_SQLSTATES = ("53100",)
# PostgreSQL's lock_not_available (lock_timeout) and query_canceled
# (statement_timeout): a wait the server gave up on.
_BUSY_SQLSTATES = ("55P03", "57014")
# PostgreSQL's admin_shutdown, crash_shutdown and cannot_connect_now (starting up
# or shutting down); the connection_exception class (08...) is matched whole.
_UNAVAILABLE_SQLSTATES = ("57P01", "57P02", "57P03")


class Problem(Exception):
    """A failure the contract names: a status, the ``error`` message and a detail.

    Keyword arguments become extra members of the body (``quantity`` on a 409).
    """

    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def not_found(what: str) -> Problem:
    """404 for a collection or member that is not there: ``what`` names it."""
    return Problem(404, "Not found", f"There is no {what}.")


def no_member(collection: str, member: str) -> Problem:
    """not_found for a member a read looked for in ``collection``."""
    return not_found(f'member "{member}" in collection "{collection}"')


def problem_response(problem: Problem) -> Response:
    """Render ``problem`` as the problem+json response, or as a page for a
    request that asked for a page."""
    if g.get("page"):
        return _problem_page(problem)
    body = {
        "type": "about:blank",
        "title": HTTP_STATUS_CODES.get(problem.status, "Unknown Error"),
        "status": problem.status,
        "detail": problem.detail,
        "error": problem.error,
        **problem.extra,
    }
    if problem.status >= 500:
        # What to quote to an operator: it is on every log line of the request.
        body["request_id"] = request_id()
    response = current_app.json.response(body)
    response.status_code = problem.status
    response.content_type = PROBLEM_MEDIA_TYPE
    response.headers.update(problem.headers)
    return response


def _problem_page(problem: Problem) -> Response:
    body = render_template("problem.html", problem=problem, request_id=request_id())
    return current_app.response_class(body, problem.status, problem.headers)


def _validation_failed(error: ValidationError) -> Response:
    # Each problem once, in `errors` (at most MAX_PROBLEMS_LISTED, and how many
    # more); `detail` stays one short line.
    more = {"more_errors": error.unlisted} if error.unlisted else {}
    return problem_response(
        Problem(
            400,
            "Invalid input",
            error.detail,
            errors=error.listed(),
            **more,
            **error.extra,
        )
    )


def _http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    if status < 400:
        # A routing redirect is an answer, not an error.
        return error.get_response()
    message = _MESSAGES.get(status) or (error.name or "Error").capitalize()
    # Keep the Allow header of a 405; the body's type is ours to set.
    headers = {
        name: value
        for name, value in error.get_headers()
        if name.lower() != "content-type"
    }
    return problem_response(
        Problem(status, message, error.description or message, headers)
    )


def _unexpected(error: Exception) -> Response:
    db.session.rollback()
    if schema_is_missing(error):
        return problem_response(
            Problem(
                503,
                NOT_MIGRATED,
                "The database schema is missing or out of date:"
                " run `flask db upgrade`.",
            )
        )
    if storage_is_full(error):
        current_app.logger.error("Storage full: %s", error)
        return problem_response(
            Problem(
                507,
                "Storage full",
                "The server's storage is full; nothing was stored. Reads still"
                " work; try the write again once space is freed.",
            )
        )
    if _database_is_busy(error):
        current_app.logger.warning("Database busy: %s", error)
        return problem_response(
            Problem(
                503,
                DATABASE_BUSY,
                "The database is busy; nothing was stored. Try again.",
                headers={"Retry-After": "1"},
            )
        )
    if database_is_unavailable(error):
        current_app.logger.warning("Database unavailable: %s", error)
        return problem_response(
            Problem(
                503,
                DATABASE_UNAVAILABLE,
                "The database does not answer; nothing was stored. Try again.",
                headers={"Retry-After": "5"},
            )
        )
    current_app.logger.exception("Unhandled exception", exc_info=error)
    return problem_response(
        Problem(
            500,
            "Internal server error",
            "The server failed to answer; nothing was stored.",
        )
    )


def schema_is_missing(error: Exception) -> bool:
    """Whether ``error`` is the database lacking a table or column (not migrated)."""
    if not isinstance(error, (OperationalError, ProgrammingError)):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None)
    return sqlstate in _MISSING_SCHEMA_SQLSTATES or any(
        text in str(error.orig) for text in _MISSING_SCHEMA_MESSAGES
    )


def storage_is_full(error: Exception) -> bool:
    """Whether the database refused a write for want of disk space (SQLite's
    SQLITE_FULL, PostgreSQL's disk_full, or the OS's ENOSPC under either)."""
    if not isinstance(error, DBAPIError):
        return False
    text = str(error.orig)
    return (
        getattr(error.orig, "sqlstate", None) in _DISK_FULL_SQLSTATES
        or "database or disk is full" in text
        or "No space left on device" in text
    )


def _database_is_busy(error: Exception) -> bool:
    # Every pooled connection stayed in use for the pool timeout, SQLite's write
    # lock stayed taken for the busy timeout, or PostgreSQL gave up a wait at its
    # lock or statement timeout: a capacity problem that passes, not a fault.
    if isinstance(error, PoolTimeoutError):
        return True
    if not isinstance(error, DBAPIError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None)
    return sqlstate in _BUSY_SQLSTATES or "database is locked" in str(error.orig)


def database_is_unavailable(error: Exception) -> bool:
    """Whether ``error`` is the database out of reach: it refused or dropped the
    connection (down, restarting, unreachable), or SQLite cannot open its file."""
    if isinstance(error, DBAPIError):
        # SQLAlchemy found the connection dead and dropped it from the pool.
        if error.connection_invalidated:
            return True
        error = error.orig
    # A failed connect reaches here unwrapped when the pool made the connection
    # for the driver's own cursor (core/driver.py).
    dialect = db.engine.dialect
    if not isinstance(error, dialect.loaded_dbapi.OperationalError):
        return False
    if dialect.name == "sqlite":
        return getattr(error, "sqlite_errorname", None) == "SQLITE_CANTOPEN"
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate is None:
        # psycopg's own: no server answered (refused, timed out, connection lost).
        return True
    return sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES


def register_error_handlers(app: Flask) -> None:
    """Answer every error of ``app`` with problem+json, never HTML or a traceback."""
    app.register_error_handler(Problem, problem_response)
    app.register_error_handler(ValidationError, _validation_failed)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected)
