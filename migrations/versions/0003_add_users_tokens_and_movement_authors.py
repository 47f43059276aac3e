"""Add users and API tokens, who made each movement, and per-user idempotency keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Reviewed by hand. Every existing row is kept: movements made before users
existed have a null `by` (anonymous), and existing idempotency keys belong to
anonymous callers (user_id 0). `idempotency_keys` is rebuilt in batch mode to
swap its unique key, which is safe there: no table refers to it (unlike
`collections`; see 0002). Downgrading forgets the idempotency keys users sent
(a 24-hour cache) because two users may hold the same key.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('viewer', 'clerk', 'admin')", name=op.f("ck_users_role_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("collections", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "scope IN ('read', 'write', 'admin')",
            name=op.f("ck_api_tokens_scope_known"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_api_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_api_tokens_digest")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])
    op.add_column("movements", sa.Column("by", sa.String(length=100), nullable=True))
    with op.batch_alter_table("idempotency_keys") as batch_op:
        batch_op.add_column(
            sa.Column("user_id", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.drop_constraint(op.f("uq_idempotency_keys_key"), type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_idempotency_keys_user_id_key"), ["user_id", "key"]
        )


def downgrade():
    op.execute("DELETE FROM idempotency_keys WHERE user_id <> 0")
    with op.batch_alter_table("idempotency_keys") as batch_op:
        batch_op.drop_constraint(
            op.f("uq_idempotency_keys_user_id_key"), type_="unique"
        )
        batch_op.create_unique_constraint(op.f("uq_idempotency_keys_key"), ["key"])
        batch_op.drop_column("user_id")
    op.drop_column("movements", "by")
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("users")
