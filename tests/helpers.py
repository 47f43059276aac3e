"""Helpers the tests share: plain functions and constants, no fixtures.

The fixtures live in conftest.py; what a test calls itself lives here, so a test
says where it comes from (``from helpers import bearer``).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

_REPOSITORY = Path(__file__).resolve().parent.parent
# Passwords must be 12 to 1024 characters long.
PASSWORD = "correct horse battery staple"
# A stored timestamp as the API writes it: UTC, microseconds, "Z".
# How the question whether any webhook listens starts, when asked alone (on
# SQLite it usually rides in a write's lock: core.database.write_statements).
ANY_SUBSCRIPTION = "SELECT webhook_subscriptions.id \nFROM webhook_subscriptions"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token_of(page: str) -> str:
    """The CSRF token a page's form carries."""
    found = _CSRF_FIELD.search(page)
    assert found is not None, "the page has no CSRF token"
    return found.group(1)


_PAGE_ERROR = re.compile(
    r"<h1>(.*?)</h1>\s*<p class=\"error\" role=\"alert\">(.*?)</p>", re.S
)


def problem_page(response: Any) -> dict[str, Any]:
    """The status, error and detail an error page shows (a page's problem+json)."""
    assert response.content_type == "text/html; charset=utf-8"
    found = _PAGE_ERROR.search(response.get_data(as_text=True))
    assert found is not None, "the page shows no error"
    error, detail = (html.unescape(part) for part in found.groups())
    return {"status": response.status_code, "error": error, "detail": detail}


def pages_from(client: FlaskClient, url: str, link: str) -> Iterator[str]:
    """Each page of a paged HTML list, from ``url`` on, following the
    ``rel="next"`` link whose text is ``link``."""
    pattern = re.compile(rf'<a href="([^"]+)" rel="next">{re.escape(link)}</a>')
    next_url: str | None = url
    while next_url:
        page = client.get(next_url).get_data(as_text=True)
        yield page
        found = pattern.search(page)
        next_url = html.unescape(found.group(1)) if found else None


# The HTTP reason phrase each status's problem+json title is, written out.
PROBLEM_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
}


def problem_body(status: int, error: str, detail: str, **extra: Any) -> dict:
    """The problem+json body stockapp answers with ``status``, ``error`` and
    ``detail`` (and any extra members)."""
    return {
        "type": "about:blank",
        "title": PROBLEM_TITLES[status],
        "status": status,
        "detail": detail,
        "error": error,
        **extra,
    }


def invalid_detail(errors: dict[str, str]) -> str:
    """The ``detail`` of a 400 Invalid input: its first problem, and how many
    more ``errors`` lists."""
    (key, why), *rest = errors.items()
    return f"{key}: {why}" + (f" (and {len(rest)} more: see errors)" if rest else "")


def bearer(token: str) -> dict[str, str]:
    """The headers that present ``token``."""
    return {"Authorization": f"Bearer {token}"}


def login(
    client: FlaskClient, name: str, password: str = PASSWORD, next: str | None = None
):
    """Log ``client`` in through the form (with its CSRF token); the response."""
    token = csrf_token_of(client.get("/log-in").get_data(as_text=True))
    form = {"name": name, "password": password, "csrf_token": token}
    if next is not None:
        form["next"] = next
    return client.post("/log-in", data=form)


def log_in_as(page, name: str, password: str = PASSWORD) -> None:
    """Log in through the form, as a person would."""
    page.goto("/log-in")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def end_other_sessions(database_url: str) -> int:
    """End every other session on the PostgreSQL database, as a server restart or
    an idle timeout would; how many were ended."""
    server = create_engine(database_url, poolclass=NullPool)
    try:
        with server.connect() as connection:
            return connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        server.dispose()


def libpq_url(database_url: str) -> str:
    """A PostgreSQL URL of SQLAlchemy's (``postgresql+psycopg://``) as psycopg
    connects to it, password and all."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def migrations_head() -> str:
    """The newest revision in migrations/: the schema this code needs."""
    config = Config()
    config.set_main_option("script_location", str(_REPOSITORY / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


# Headers that differ between any two answers, whoever makes them.
_PER_REQUEST = {"X-Request-ID"}


def answer(response) -> tuple[int, list[tuple[str, str]], bytes]:
    """A response's status, headers in order (but the request's id) and body."""
    headers = [(k, v) for k, v in response.headers if k not in _PER_REQUEST]
    return response.status_code, headers, response.get_data()


class Spy:
    """Wraps a request toll's shortcut and records whether it answered each
    request."""

    def __init__(self, shortcut: Any) -> None:
        self.shortcut = shortcut
        self.answered: list[bool] = []

    def __call__(self, environ: dict[str, Any]) -> Any:
        direct = self.shortcut(environ)
        self.answered.append(direct is not None)
        return direct


def assert_logged_and_counted(
    client: FlaskClient, log: str, method: str, route: str, request_id: str
) -> None:
    """The request log ``log`` (a JSON line) and the metrics hold one anonymous
    200 answer to ``method`` on ``route`` with ``request_id``."""
    (line,) = [json.loads(text) for text in log.splitlines()]
    assert {k: v for k, v in line.items() if k not in {"time", "duration_ms"}} == {
        "level": "info",
        "logger": "stockapp.requests",
        "method": method,
        "route": route,
        "status": 200,
        "user": None,
        "request_id": request_id,
    }
    metrics = client.get("/metrics").get_data(as_text=True)
    counter = (
        f'stockapp_requests_total{{method="{method}",route="{route}",status="200"}}'
    )
    assert counter in metrics
