"""Known users: an indexed flag for people in both primary groups.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

`sync status` counts them on every call; at 100,000 users a scan of the JSON sources is too
slow for a chat reply, an index is not.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("known_users") as batch:
        batch.add_column(
            sa.Column("both_groups", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_index("ix_known_users_both_groups", ["both_groups"])
    op.execute(
        "UPDATE known_users SET both_groups = true "
        "WHERE sources LIKE '%\"group:google\"%' AND sources LIKE '%\"group:microsoft\"%'"
    )


def downgrade() -> None:
    with op.batch_alter_table("known_users") as batch:
        batch.drop_index("ix_known_users_both_groups")
        batch.drop_column("both_groups")
