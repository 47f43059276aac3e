"""Alembic's entry point, run by ``flask db ...`` inside the app's context."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from sqlalchemy import text

from stockapp.core.database import MIGRATION_LOCK_KEY, begin_sqlite_transaction

config = context.config
# Without disable_existing_loggers=False this would silence the app's own
# loggers in a process that migrates and then serves (or tests).
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db
config.set_main_option(
    "sqlalchemy.url",
    target_db.engine.url.render_as_string(hide_password=False).replace("%", "%%"),
)


def run_migrations_offline():
    """Emit the migrations as SQL text (``flask db upgrade --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_db.metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Apply the migrations over the app's own engine."""

    def skip_empty_autogenerate(context, revision, directives):
        # `flask db migrate` with no model change writes no empty revision.
        if getattr(config.cmd_opts, "autogenerate", False):
            if directives[0].upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", skip_empty_autogenerate)

    with target_db.engine.connect() as connection:
        # Take a lock before reading the current revision, so that of several
        # hosts upgrading at once only the first applies each migration and the
        # others find it done. SQLite: the write lock, by BEGIN IMMEDIATE (see
        # stockapp/database.py). PostgreSQL: an advisory lock, held until the
        # migration transaction ends.
        context.configure(
            connection=connection, target_metadata=target_db.metadata, **conf_args
        )
        with context.begin_transaction():
            if connection.dialect.name == "sqlite":
                begin_sqlite_transaction(connection, write=True)
            if connection.dialect.name == "postgresql":
                # The app's lock and statement timeouts (shorter than a
                # request may wait) are not for migrations: another host's
                # migration may hold the lock, and a table rewrite may take
                # minutes. This transaction only.
                connection.execute(text("SET LOCAL lock_timeout = 0"))
                connection.execute(text("SET LOCAL statement_timeout = 0"))
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": MIGRATION_LOCK_KEY},
                )
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
