"""deadlines: per delivery, when receipt and answer are due under NĐ 30/2020, when they
were met, and when the hub flagged them late

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # deliveries stored before this revision keep deadlines_open NULL: the scanner looks only
    # at deliveries made from now on, so an upgrade does not flag the whole history at once
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("deadlines_open", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("receipt_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("receipt_confirmed_at", sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("receipt_flagged_at", sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("answer_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("answered_by", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("answer_flagged_at", sa.DateTime(timezone=True),
                                   nullable=True))
        batch.create_index("ix_deliveries_deadlines_open", ["deadlines_open"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_deadlines_open")
        for column in ("answer_flagged_at", "answered_by", "answered_at", "answer_due_at",
                       "receipt_flagged_at", "receipt_confirmed_at", "receipt_due_at",
                       "deadlines_open"):
            batch.drop_column(column)
