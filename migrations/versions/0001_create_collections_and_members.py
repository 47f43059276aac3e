"""Create collections and the members they hold.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Reviewed by hand: constraint names come from the naming convention in
stockapp/extensions.py; members go with their collection (ON DELETE CASCADE);
quantities are 64-bit and never negative.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collections")),
        sa.UniqueConstraint("name", name=op.f("uq_collections_name")),
    )
    op.create_table(
        "members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "quantity >= 0", name=op.f("ck_members_quantity_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_members_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint(
            "collection_id", "name", name=op.f("uq_members_collection_id_name")
        ),
    )


def downgrade():
    op.drop_table("members")
    op.drop_table("collections")
