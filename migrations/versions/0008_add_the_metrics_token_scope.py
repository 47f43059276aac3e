"""Let API tokens carry the "metrics" scope (reading /metrics and nothing else).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26

Reviewed by hand. Only the CHECK on ``api_tokens.scope`` changes. PostgreSQL
drops and adds it; SQLite rebuilds the table in batch mode, with its rows, ids,
foreign key and indexes. That is safe there: no table refers to api_tokens
(unlike collections; see 0002). Downgrading deletes the metrics tokens: the
older code has no scope that reads /metrics alone, and giving them a wider
one would let a scraper's token read the stock.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OLD_SCOPES = ("read", "write", "admin")
NEW_SCOPES = (*OLD_SCOPES, "metrics")
CHECK = "ck_api_tokens_scope_known"


def _allow(scopes):
    listed = ", ".join(f"'{scope}'" for scope in scopes)
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.drop_constraint(op.f(CHECK), type_="check")
        batch_op.create_check_constraint(op.f(CHECK), f"scope IN ({listed})")


def upgrade():
    _allow(NEW_SCOPES)


def downgrade():
    op.execute("DELETE FROM api_tokens WHERE scope = 'metrics'")
    _allow(OLD_SCOPES)
