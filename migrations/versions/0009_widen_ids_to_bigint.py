"""Widen every id, and every column naming one, to 64 bits (bigint).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27

Reviewed by hand. On PostgreSQL the ids were 32-bit serials: the movement log,
one row per change, would run out of ids after 2^31 rows. Each table's id and
the columns that name an id (members.collection_id, api_tokens.user_id,
idempotency_keys.user_id) become bigint, in one ALTER TABLE per table, and each
id's sequence becomes a bigint sequence (its maximum 2^63-1). Every row, key and
index is kept, but PostgreSQL rewrites each table holding the lock that stops
reads and writes: on a large movement log, upgrade in a maintenance window.
SQLite is left alone: its INTEGER is 64-bit already, and an id column must stay
typed exactly INTEGER to remain the rowid that numbers new rows (the models say
so; see ID_TYPE in stockapp/stock/models.py).

Downgrading narrows them back to integer. It refuses, changing nothing, while
any of those columns or sequences holds a value beyond integer's range.
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Each table's id and its other columns naming an id. Each id's sequence is the
# one its serial column was given: <table>_id_seq.
ID_COLUMNS = {
    "collections": ("id",),
    "members": ("id", "collection_id"),
    "movements": ("id",),
    "idempotency_keys": ("id", "user_id"),
    "users": ("id",),
    "api_tokens": ("id", "user_id"),
}
INTEGER_MIN, INTEGER_MAX = -(2**31), 2**31 - 1


def _retype(sql_type):
    for table, columns in ID_COLUMNS.items():
        # One statement per table: PostgreSQL rewrites the table once.
        changes = ", ".join(
            f"ALTER COLUMN {column} TYPE {sql_type}" for column in columns
        )
        op.execute(f"ALTER TABLE {table} {changes}")
        op.execute(f"ALTER SEQUENCE {table}_id_seq AS {sql_type}")


def _refuse_values_beyond_integer():
    """Fail, before any change, if a value would not fit in an integer again."""
    bind = op.get_bind()
    beyond = []
    for table, columns in ID_COLUMNS.items():
        for column in columns:
            query = f"SELECT min({column}), max({column}) FROM {table}"
            for value in bind.execute(sa.text(query)).one():
                if value is not None and not INTEGER_MIN <= value <= INTEGER_MAX:
                    beyond.append(f"{table}.{column} holds {value}")
        sequence = f"{table}_id_seq"
        last = bind.execute(sa.text(f"SELECT last_value FROM {sequence}")).scalar()
        if last > INTEGER_MAX:
            beyond.append(f"sequence {sequence} is at {last}")
    if beyond:
        # Flask-Migrate reports a RuntimeError as "Error: ..." and exits 1.
        raise RuntimeError(
            f"Cannot narrow the ids back to integer ({INTEGER_MIN} to"
            f" {INTEGER_MAX}): {'; '.join(beyond)}. Nothing was changed."
        )


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        return
    _retype("bigint")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        return
    # `flask db downgrade --sql` reads nothing; there PostgreSQL's own
    # "integer out of range" stops the transaction instead.
    if not context.is_offline_mode():
        _refuse_values_beyond_integer()
    _retype("integer")
