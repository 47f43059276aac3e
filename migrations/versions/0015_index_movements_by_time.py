"""Index each member's movements by time, for the series of its stock over time.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

Reviewed by hand. GET /stock/<c>/<m>/series asks, at each boundary of a range,
for the member's last movement at or before that time, and for its last change
of reorder level: with these two indexes each is one seek, whatever the length
of the log (issue 23). The second is partial, holding only the "level"
movements, so the seek for the last level never walks past quantity changes.
Only indexes: no row changes either way.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BY_TIME = "ix_movements_collection_member_at_id"
LEVELS_BY_TIME = "ix_movements_level_collection_member_at_id"
ONLY_LEVELS = sa.text("kind = 'level'")


def upgrade():
    op.create_index(BY_TIME, "movements", ["collection", "member", "at", "id"])
    op.create_index(
        LEVELS_BY_TIME,
        "movements",
        ["collection", "member", "at", "id"],
        sqlite_where=ONLY_LEVELS,
        postgresql_where=ONLY_LEVELS,
    )


def downgrade():
    op.drop_index(LEVELS_BY_TIME, table_name="movements")
    op.drop_index(BY_TIME, table_name="movements")
