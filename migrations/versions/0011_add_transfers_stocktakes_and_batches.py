"""Let the movement log record transfers, stocktakes and batches; add stocktakes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

Reviewed by hand. ``movements`` gains the kinds "transfer" and "stocktake" and
three nullable columns naming what a movement went with: ``batch`` and
``transfer`` (random text ids) and ``stocktake`` (a stocktake's id). PostgreSQL
adds the columns and replaces the CHECK in place. SQLite cannot change a
constraint, so the table is rebuilt by hand with the same ids, rows and indexes,
as 0007 did. Two new tables hold the stocktakes and their counts.

Downgrading drops the stocktakes and the three columns and records the new
kinds as "update", the nearest the older code knows: the movements are kept.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OLD_KINDS = ("create", "replace", "update", "delete", "adjust", "import")
NEW_KINDS = (*OLD_KINDS, "transfer", "stocktake")
CHECK = "ck_movements_kind_known"
OLD_COLUMNS = 'id, collection, member, kind, "before", "after", reason, at, "by"'
GROUP_COLUMNS = ("batch", "transfer", "stocktake")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _check(kinds):
    return "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def _group_columns():
    return [
        sa.Column("batch", sa.String(length=36), nullable=True),
        sa.Column("transfer", sa.String(length=36), nullable=True),
        sa.Column("stocktake", sa.BigInteger(), nullable=True),
    ]


def _rebuild_movements_on_sqlite(kinds, grouped):
    """SQLite: the movements table again, with ``kinds`` allowed and, when
    ``grouped``, the three group columns; every row and id kept."""
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
        *(_group_columns() if grouped else []),
        sa.CheckConstraint(_check(kinds), name=op.f(CHECK)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_movements")),
    )
    op.execute(
        f"INSERT INTO movements_rebuilt ({OLD_COLUMNS}) SELECT {OLD_COLUMNS}"
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
        _rebuild_movements_on_sqlite(NEW_KINDS, grouped=True)
    else:
        for column in _group_columns():
            op.add_column("movements", column)
        op.drop_constraint(op.f(CHECK), "movements", type_="check")
        op.create_check_constraint(op.f(CHECK), "movements", _check(NEW_KINDS))
    op.create_table(
        "stocktakes",
        sa.Column("id", ID, nullable=False),
        sa.Column("collection", sa.String(length=100), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("opened_by", sa.String(length=100), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uncounted", sa.String(length=10), nullable=True),
        sa.CheckConstraint(
            "state IN ('open', 'committed', 'cancelled')",
            name=op.f("ck_stocktakes_state_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stocktakes")),
    )
    op.create_index("ix_stocktakes_collection_id", "stocktakes", ["collection", "id"])
    op.create_table(
        "stocktake_counts",
        sa.Column("stocktake_id", ID, nullable=False),
        sa.Column("member", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("stored_quantity", sa.BigInteger(), nullable=False),
        sa.Column("stored_version", sa.BigInteger(), nullable=False),
        sa.Column("counted_by", sa.String(length=100), nullable=True),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before", sa.BigInteger(), nullable=True),
        sa.Column("after", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "quantity >= 0", name=op.f("ck_stocktake_counts_quantity_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["stocktake_id"],
            ["stocktakes.id"],
            name=op.f("fk_stocktake_counts_stocktake_id_stocktakes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "stocktake_id", "member", name=op.f("pk_stocktake_counts")
        ),
    )


def downgrade():
    op.drop_table("stocktake_counts")
    op.drop_index("ix_stocktakes_collection_id", table_name="stocktakes")
    op.drop_table("stocktakes")
    op.execute(
        "UPDATE movements SET kind = 'update' WHERE kind IN ('transfer', 'stocktake')"
    )
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_movements_on_sqlite(OLD_KINDS, grouped=False)
        return
    op.drop_constraint(op.f(CHECK), "movements", type_="check")
    op.create_check_constraint(op.f(CHECK), "movements", _check(OLD_KINDS))
    for column in GROUP_COLUMNS:
        op.drop_column("movements", column)
