"""Log reorder-level changes in the movement log.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

Reviewed by hand. ``movements`` gains the kind "level" and two nullable
columns, ``level_before`` and ``level_after``: a level movement's reorder level
before and after the change (its quantity, ``before`` = ``after``, is
untouched). PostgreSQL adds the columns and replaces the CHECK in place. SQLite
cannot change a constraint, so the table is rebuilt by hand with the same ids,
rows and indexes, as 0007 and 0011 did.

Downgrading deletes the level movements (the older code cannot show them and
they changed no quantity) and drops the two columns.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OLD_KINDS = (
    "create",
    "replace",
    "update",
    "delete",
    "adjust",
    "import",
    "transfer",
    "stocktake",
)
NEW_KINDS = (*OLD_KINDS, "level")
CHECK = "ck_movements_kind_known"
KEPT_COLUMNS = (
    'id, collection, member, kind, "before", "after", reason, at, "by",'
    " batch, transfer, stocktake"
)
LEVEL_COLUMNS = ("level_before", "level_after")


def _check(kinds):
    return "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def _level_columns():
    return [sa.Column(name, sa.BigInteger(), nullable=True) for name in LEVEL_COLUMNS]


def _rebuild_movements_on_sqlite(kinds, with_levels):
    """SQLite: the movements table again, with ``kinds`` allowed and, when
    ``with_levels``, the two level columns; every row and id kept."""
    op.create_table(
        "movements_rebuilt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection", sa.String(length=100), nullable=False),
        sa.Column("member", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("before", sa.BigInteger(), nullable=True),
        sa.Column("after", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=True),
        sa.Column("batch", sa.String(length=36), nullable=True),
        sa.Column("transfer", sa.String(length=36), nullable=True),
        sa.Column("stocktake", sa.BigInteger(), nullable=True),
        *(_level_columns() if with_levels else []),
        sa.CheckConstraint(_check(kinds), name=op.f(CHECK)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_movements")),
    )
    op.execute(
        f"INSERT INTO movements_rebuilt ({KEPT_COLUMNS}) SELECT {KEPT_COLUMNS}"
        " FROM movements"
    )
    op.drop_index("ix_movements_collection_id", table_name="movements")
    op.drop_index("ix_movements_collection_member_id", table_name="movements")
    op.drop_table("movements")
    op.rename_table("movements_rebuilt", "movements")
    op.create_index(
        "ix_movements_collection_member_id",
        "movements",
        ["collection", "member", "id"],
    )
    op.create_index("ix_movements_collection_id", "movements", ["collection", "id"])


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_movements_on_sqlite(NEW_KINDS, with_levels=True)
        return
    for column in _level_columns():
        op.add_column("movements", column)
    op.drop_constraint(op.f(CHECK), "movements", type_="check")
    op.create_check_constraint(op.f(CHECK), "movements", _check(NEW_KINDS))


def downgrade():
    op.execute("DELETE FROM movements WHERE kind = 'level'")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_movements_on_sqlite(OLD_KINDS, with_levels=False)
        return
    op.drop_constraint(op.f(CHECK), "movements", type_="check")
    op.create_check_constraint(op.f(CHECK), "movements", _check(OLD_KINDS))
    for column in LEVEL_COLUMNS:
        op.drop_column("movements", column)
