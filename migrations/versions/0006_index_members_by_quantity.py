"""Index each collection's members by quantity, for the collection page's sort.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

Reviewed by hand. The collection page lists members sorted by quantity a page
at a time; with this index each page is a seek instead of a sort of the whole
collection. Only an index: no row changes either way.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEX = "ix_members_collection_id_quantity_id"


def upgrade():
    op.create_index(INDEX, "members", ["collection_id", "quantity", "id"])


def downgrade():
    op.drop_index(INDEX, table_name="members")
