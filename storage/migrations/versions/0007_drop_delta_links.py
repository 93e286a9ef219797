"""The unused delta_links table goes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Nothing reads or writes it any more: the Graph client keeps its delta links itself. The
downgrade makes it again as 0001 did, empty.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("delta_links")


def downgrade() -> None:
    op.create_table(
        "delta_links",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
