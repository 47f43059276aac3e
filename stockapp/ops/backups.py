"""``flask db backup`` and ``flask db restore``: SQLite's online backup API.

A backup is taken through SQLite's backup API in one step, so it is one
consistent snapshot while the server keeps writing (never a copy of a live
file, which could catch a write half done or miss the WAL). It is written
beside its destination and renamed into place once checked, so a backup file
is either whole or absent.

A restore checks the file first (``PRAGMA integrity_check``, a schema revision
this code knows) and copies it into the database through the same API, under
the database's own locks. It refuses while another process has the database
open (a running server), unless ``--force``.

On PostgreSQL both say to use ``pg_dump`` / ``pg_restore``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import click
from alembic.util.exc import CommandError
from flask_migrate.cli import db as db_commands
from sqlalchemy import inspect

from ..core.extensions import db
from ..core.page_formats import counted
from ..stock.units import renew_versions
from .health import migration_scripts, schema_head
from .prune import checkpoint

_POSTGRESQL = (
    "On PostgreSQL, back up with pg_dump and restore with pg_restore, e.g.\n"
    "  pg_dump --format=custom --file=stock.dump postgresql://USER@HOST/DATABASE\n"
    "  pg_restore --clean --if-exists --dbname=postgresql://USER@HOST/DATABASE"
    " stock.dump\n"
    "(see docs/operations.md)."
)


def _database_file() -> Path:
    """The app's SQLite file; on any other database, say what to use instead."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        raise click.ClickException(_POSTGRESQL)
    if not url.database or url.database == ":memory:":
        raise click.ClickException("The database is not a SQLite file.")
    # The app's own pooled connections must not count as "in use" below.
    db.engine.dispose()
    return Path(url.database)


def _checked(connection: sqlite3.Connection, what: str) -> str:
    """The schema revision of a sound stockapp database; else refuse, saying why."""
    try:
        verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise click.ClickException(f"{what} is damaged: {verdict}")
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as error:
        message = f"{what} is not a stockapp database: {error}"
        raise click.ClickException(message) from None
    if row is None:
        raise click.ClickException(f"{what} has no schema revision.")
    revision = row[0]
    try:
        known = migration_scripts().get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        raise click.ClickException(
            f"{what} is at schema revision {revision!r}, which this code does not"
            " know (a newer release's?)."
        )
    return revision


def _counts(connection: sqlite3.Connection) -> str:
    collections = connection.execute("SELECT count(*) FROM collections").fetchone()
    members = connection.execute("SELECT count(*) FROM members").fetchone()
    return f"{counted(collections[0], 'collection')}, {counted(members[0], 'member')}"


@click.command("backup")
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace DESTINATION if it exists.")
def backup_command(destination: Path, force: bool) -> None:
    """Copy the SQLite database to DESTINATION while it keeps serving."""
    source_path = _database_file()
    if destination.exists() and not force:
        raise click.ClickException(f"{destination} exists; pass --force to replace it.")
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(source_path)
    target = sqlite3.connect(partial)
    try:
        # pages=-1: every page in one step, one read transaction: a snapshot.
        source.backup(target)
        # A single self-contained file, not one that expects a WAL beside it.
        target.execute("PRAGMA journal_mode=DELETE")
        revision = _checked(target, f"The backup {destination}")
        counts = _counts(target)
    finally:
        target.close()
        source.close()
    os.replace(partial, destination)
    # The live database's write-ahead log, copied out now, need not stay large.
    checkpoint()
    click.echo(
        f"Backed up {source_path} to {destination}: schema {revision}, {counts},"
        f" {destination.stat().st_size} bytes."
    )


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--force", is_flag=True, help="Restore even while another process has it open."
)
def restore_command(source: Path, force: bool) -> None:
    """Replace the SQLite database's contents with the backup SOURCE."""
    database_path = _database_file()
    backup = sqlite3.connect(source)
    try:
        revision = _checked(backup, f"The backup {source}")
        counts = _counts(backup)
        live = sqlite3.connect(database_path, timeout=30)
        try:
            _refuse_if_in_use(live, database_path, force)
            backup.backup(live)
            live.execute("PRAGMA journal_mode=WAL")
        finally:
            live.close()
    finally:
        backup.close()
    click.echo(f"Restored {database_path} from {source}: schema {revision}, {counts}.")
    head = schema_head()
    if revision != head:
        click.echo(f"The schema is behind this code ({head}): run `flask db upgrade`.")
    elif _has_versions():
        # The restored rows hold versions clients may have seen for other
        # content since the backup: every ETag is drawn anew.
        renew_versions()
        click.echo("Every collection and member has a new ETag.")


def _has_versions() -> bool:
    """Whether the database's rows carry versions (from migration 0002 on)."""
    columns = inspect(db.engine).get_columns("members")
    return any(column["name"] == "version" for column in columns)


@click.command("new-etags")
def new_etags_command() -> None:
    """Give every collection and member a new ETag (after a pg_restore)."""
    renew_versions()
    click.echo("Every collection and member has a new ETag.")


def _refuse_if_in_use(live: sqlite3.Connection, path: Path, force: bool) -> None:
    """Refuse (unless ``force``) while another connection has the database open.

    SQLite will not leave WAL mode while another connection is open, which is
    how a running server (its workers keep their connections) is seen. A
    server that has not touched the database yet is not.
    """
    live.execute("PRAGMA busy_timeout=0")
    try:
        live.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.OperationalError:
        if not force:
            raise click.ClickException(
                f"{path} is open in another process (a running server?). Stop it"
                " first, or pass --force to restore under it."
            ) from None
    finally:
        live.execute("PRAGMA busy_timeout=30000")


def register_backup_commands() -> None:
    """Add ``backup`` and ``restore`` to Flask-Migrate's ``flask db`` group."""
    db_commands.add_command(backup_command)
    db_commands.add_command(restore_command)
    db_commands.add_command(new_etags_command)
