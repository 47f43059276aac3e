"""Let the movement log record imports (kind "import").

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

Reviewed by hand. Only the CHECK on ``movements.kind`` changes. PostgreSQL
drops and adds it. SQLite cannot change a constraint in place, so the table is
rebuilt by hand with the same columns, ids, rows and indexes (no table has a
foreign key to it, so nothing cascades). Downgrading records the imports as
"update", the nearest kind the older code knows: the rows are kept.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD_KINDS = ("create", "replace", "update", "delete", "adjust")
NEW_KINDS = (*OLD_KINDS, "import")
CHECK = "ck_movements_kind_known"
COLUMNS = 'id, collection, member, kind, "before", "after", reason, at, "by"'


def _check(kinds):
    return "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def _allow(kinds):
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f(CHECK), "movements", type_="check")
        op.create_check_constraint(op.f(CHECK), "movements", _check(kinds))
        return
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
        sa.CheckConstraint(_check(kinds), name=op.f(CHECK)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_movements")),
    )
    op.execute(
        f"INSERT INTO movements_rebuilt ({COLUMNS}) SELECT {COLUMNS} FROM movements"
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
    _allow(NEW_KINDS)


def downgrade():
    op.execute("UPDATE movements SET kind = 'update' WHERE kind = 'import'")
    _allow(OLD_KINDS)
