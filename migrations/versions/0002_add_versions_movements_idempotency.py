"""Add version counters, the movement log and idempotency keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Reviewed by hand. Existing collections and members keep their data and start
at a random version, as new rows do (stockapp/stock/models.py): a version that
started at 1 would repeat the ETags a client held before a downgrade to 0001 and
this upgrade again.
Columns are added and dropped with plain ALTER TABLE, never batch mode: on
SQLite batch mode copies and drops the table, and dropping `collections` with
foreign keys on would cascade-delete every member.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "collections",
        sa.Column("version", sa.BigInteger(), server_default="1", nullable=False),
    )
    op.add_column(
        "members",
        sa.Column("version", sa.BigInteger(), server_default="1", nullable=False),
    )
    random_version = {
        "sqlite": "abs(random()) % 4503599627370496 + 1",
        "postgresql": "floor(random() * 4503599627370496)::bigint + 1",
    }[op.get_context().dialect.name]
    for table in ("collections", "members"):
        op.execute(f"UPDATE {table} SET version = {random_version}")
    op.create_table(
        "movements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection", sa.String(length=100), nullable=False),
        sa.Column("member", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("before", sa.BigInteger(), nullable=True),
        sa.Column("after", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('create', 'replace', 'update', 'delete', 'adjust')",
            name=op.f("ck_movements_kind_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_movements")),
    )
    op.create_index(
        "ix_movements_collection_member_id",
        "movements",
        ["collection", "member", "id"],
    )
    op.create_index("ix_movements_collection_id", "movements", ["collection", "id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("headers", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("key", name=op.f("uq_idempotency_keys_key")),
    )
    op.create_index(
        op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"]
    )


def downgrade():
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_movements_collection_id", table_name="movements")
    op.drop_index("ix_movements_collection_member_id", table_name="movements")
    op.drop_table("movements")
    op.drop_column("members", "version")
    op.drop_column("collections", "version")
