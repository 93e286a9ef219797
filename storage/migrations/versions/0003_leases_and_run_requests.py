"""Several replicas: the reconciliation lease and run requests.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

`leases` holds who reconciles (one row per lease name); `run_requests` holds the runs commands
asked for, which the lease holder carries out. `emails` is a JSON list of addresses.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        _when("until", nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )

    op.create_table(
        "run_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("requested_by", sa.String(), nullable=False),
        _when("requested_at", nullable=False),
        sa.Column("emails", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        _when("finished_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_run_requests_status", "run_requests", ["status"])


def downgrade() -> None:
    op.drop_index("ix_run_requests_status", table_name="run_requests")
    op.drop_table("run_requests")
    op.drop_table("leases")
