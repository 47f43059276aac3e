"""Keep the files the import page's dry run read, for "Import these changes".

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

Reviewed by hand. A new table, ``import_drafts``: one row per file a dry run
read (its bytes, format and mode), named by a random token and owned by the
user who uploaded it, with the time it was saved. Nothing else changes.

Downgrading drops the table: the drafts waiting are forgotten, and their
makers choose their files again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_drafts",
        sa.Column("token", sa.String(length=43), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("file_format", sa.String(length=4), nullable=False),
        sa.Column("mode", sa.String(length=7), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "file_format IN ('csv', 'json')",
            name=op.f("ck_import_drafts_file_format_known"),
        ),
        sa.CheckConstraint(
            "mode IN ('merge', 'replace')", name=op.f("ck_import_drafts_mode_known")
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_import_drafts")),
    )
    op.create_index(
        "ix_import_drafts_owner_created_at",
        "import_drafts",
        ["owner", "created_at"],
    )


def downgrade():
    op.drop_index("ix_import_drafts_owner_created_at", table_name="import_drafts")
    op.drop_table("import_drafts")
