"""Fencing: the reconciliation lease gets a generation.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

`leases.generation` grows each time the lease is taken anew (another holder, or the same one
after it ended) or released; a run's writes check it in their own transaction, so a holder
that was stalled past its lease's end cannot write once another has taken over
(core/fencing.py). Existing rows start at 0: the next take makes them 1.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leases") as batch:
        batch.add_column(
            sa.Column("generation", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    # A released lease is a row without a holder from 0006 on: before it, there was no row.
    op.execute(sa.text("DELETE FROM leases WHERE holder = ''"))
    with op.batch_alter_table("leases") as batch:
        batch.drop_column("generation")
