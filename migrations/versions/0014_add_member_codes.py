"""Give members a code (the barcode on the shelf) and log its changes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

Reviewed by hand. ``members`` gains a nullable ``code`` and a unique index on
(code, collection_id): a code names one member of a collection, and finds its
members in every collection. ``movements`` gains the kind "code" and two
nullable columns, ``code_before`` and ``code_after`` (its quantity, ``before``
= ``after``, is untouched). PostgreSQL adds the columns and replaces the CHECK
in place. SQLite cannot change a constraint, so the movements table is rebuilt
by hand with the same ids, rows and indexes, as 0012 did.

Downgrading deletes the code movements and drops the columns and the index:
the codes are forgotten.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
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
    "level",
)
NEW_KINDS = (*OLD_KINDS, "code")
CHECK = "ck_movements_kind_known"
KEPT_COLUMNS = (
    'id, collection, member, kind, "before", "after", reason, at, "by",'
    " batch, transfer, stocktake, level_before, level_after"
)
CODE_COLUMNS = ("code_before", "code_after")
CODE_INDEX = "uq_members_code_collection_id"


def _check(kinds):
    return "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def _code_columns():
    return [
        sa.Column(name, sa.String(length=48), nullable=True) for name in CODE_COLUMNS
    ]


def _rebuild_movements_on_sqlite(kinds, with_codes):
    """SQLite: the movements table again, with ``kinds`` allowed and, when
    ``with_codes``, the two code columns; every row and id kept."""
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
        sa.Column("level_before", sa.BigInteger(), nullable=True),
        sa.Column("level_after", sa.BigInteger(), nullable=True),
        *(_code_columns() if with_codes else []),
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
    op.add_column("members", sa.Column("code", sa.String(length=48), nullable=True))
    op.create_index(CODE_INDEX, "members", ["code", "collection_id"], unique=True)
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_movements_on_sqlite(NEW_KINDS, with_codes=True)
        return
    for column in _code_columns():
        op.add_column("movements", column)
    op.drop_constraint(op.f(CHECK), "movements", type_="check")
    op.create_check_constraint(op.f(CHECK), "movements", _check(NEW_KINDS))


def downgrade():
    op.execute("DELETE FROM movements WHERE kind = 'code'")
    op.drop_index(CODE_INDEX, table_name="members")
    op.drop_column("members", "code")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_movements_on_sqlite(OLD_KINDS, with_codes=False)
        return
    op.drop_constraint(op.f(CHECK), "movements", type_="check")
    op.create_check_constraint(op.f(CHECK), "movements", _check(OLD_KINDS))
    for column in CODE_COLUMNS:
        op.drop_column("movements", column)
