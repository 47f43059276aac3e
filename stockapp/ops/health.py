"""Health checks for the process supervisor and the load balancer.

``/healthz``: the process answers (no database). ``/readyz``: the database
answers and its schema is at the migrations' head; otherwise 503 naming why.
Both are public and cheap: one statement at most.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..access.permissions import public
from ..core.api_doc import (
    Schema,
    documented,
    media,
    operation_responses,
    problem_response,
)
from ..core.api_document import api_blueprint
from ..core.errors import (
    DATABASE_UNAVAILABLE,
    NOT_MIGRATED,
    Problem,
    schema_is_missing,
)
from ..core.extensions import db

bp = api_blueprint("health", __name__)

_STORED_VERSION = text("SELECT version_num FROM alembic_version")


def _status_response(description: str, status: str, **more: Schema) -> Schema:
    schema = {
        "type": "object",
        "required": ["status", *more],
        "properties": {"status": {"const": status}, **more},
        "additionalProperties": False,
    }
    return {"description": description, "content": media(schema)}


@cache
def _scripts(directory: str) -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", directory)
    return ScriptDirectory.from_config(config)


def migration_scripts() -> ScriptDirectory:
    """The app's migrations (Flask-Migrate's directory), read once per process."""
    return _scripts(current_app.extensions["migrate"].directory)


def schema_head() -> str:
    """The schema revision this code needs (the migrations' head)."""
    return migration_scripts().get_current_head()


@bp.get("/healthz")
@documented(
    "healthz",
    tag="operations",
    responses=operation_responses(
        {"200": _status_response("The process is up.", "ok")},
        names=False,
        database=False,
    ),
)
@public
def healthz() -> Any:
    """Liveness: the process answers.

    Never touches the database.
    """
    return {"status": "ok"}


@bp.get("/readyz")
@documented(
    "readyz",
    tag="operations",
    responses=operation_responses(
        {
            "200": _status_response(
                "Ready; `database` is the schema's revision.",
                "ready",
                database={"type": "string"},
            ),
            "503": problem_response(
                "The database does not answer, or its schema is not at the"
                " migrations' head (`detail` names the revisions).",
                DATABASE_UNAVAILABLE,
                NOT_MIGRATED,
            ),
        },
        names=False,
        database=False,
    ),
)
@public
def readyz() -> Any:
    """Readiness: the database answers and is migrated."""
    head = schema_head()
    try:
        with db.engine.connect() as connection:
            stored = connection.execute(_STORED_VERSION).scalar_one_or_none()
    except SQLAlchemyError as error:
        # No alembic_version table: a database never migrated.
        if schema_is_missing(error):
            stored = None
        else:
            current_app.logger.warning("Readiness: database unavailable: %s", error)
            raise Problem(
                503,
                DATABASE_UNAVAILABLE,
                "The database does not answer; see the server's log.",
                headers={"Retry-After": "5"},
            ) from None
    if stored != head:
        raise Problem(
            503,
            NOT_MIGRATED,
            f"The database schema is at {stored or 'nothing'}, this code needs"
            f" {head}: run `flask db upgrade`.",
        )
    return {"status": "ready", "database": head}
