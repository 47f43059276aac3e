"""Add each member's reorder level and an index of the members at or below it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

Reviewed by hand. Existing members keep their rows and have no level (null).
Plain ALTER TABLE, never batch mode (see 0002). SQLite cannot add a CHECK
constraint to an existing table, but it takes a named one on the column it
adds; PostgreSQL adds it after the column. The partial index holds only the
members whose quantity is at or below their level, so the low-stock list costs
what it lists, not what the stock holds.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CHECK = "ck_members_reorder_level_not_negative"
INDEX = "ix_members_low_stock"
LOW_STOCK = "quantity <= reorder_level"


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE members ADD COLUMN reorder_level BIGINT"
            f" CONSTRAINT {CHECK} CHECK (reorder_level >= 0)"
        )
    else:
        op.add_column("members", sa.Column("reorder_level", sa.BigInteger()))
        # op.f: the name is final (the naming convention would prefix it again).
        op.create_check_constraint(op.f(CHECK), "members", "reorder_level >= 0")
    op.create_index(
        INDEX,
        "members",
        ["id"],
        sqlite_where=sa.text(LOW_STOCK),
        postgresql_where=sa.text(LOW_STOCK),
    )


def downgrade():
    op.drop_index(INDEX, table_name="members")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f(CHECK), "members", type_="check")
    # (On SQLite the column's own CHECK goes with the column.)
    op.drop_column("members", "reorder_level")
