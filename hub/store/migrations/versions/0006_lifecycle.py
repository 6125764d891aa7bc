"""lifecycle: a message's original document, and a delivery that waits for another

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-15 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        # an update, replacement, recall or status points at the original document
        # (docs/lifecycle.md); messages stored before this revision point nowhere
        batch.add_column(sa.Column("original_id", sa.String(length=36), nullable=True))
        batch.create_foreign_key("fk_messages_original_id", "messages", ["original_id"], ["id"])
        batch.create_index("ix_messages_original_id", ["original_id"])
        # a document's thread is read by its first message, supplements and changes
        batch.create_index("ix_messages_supplement_to", ["supplement_to"])
    with op.batch_alter_table("deliveries") as batch:
        # a delivery held until another (its predecessor to the same recipient) is delivered
        batch.add_column(sa.Column("after_delivery_id", sa.String(length=36), nullable=True))
        batch.create_foreign_key("fk_deliveries_after_delivery_id", "deliveries",
                                 ["after_delivery_id"], ["id"])
        batch.create_index("ix_deliveries_after_delivery_id", ["after_delivery_id"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_after_delivery_id")
        batch.drop_constraint("fk_deliveries_after_delivery_id", type_="foreignkey")
        batch.drop_column("after_delivery_id")
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_supplement_to")
        batch.drop_index("ix_messages_original_id")
        batch.drop_constraint("fk_messages_original_id", type_="foreignkey")
        batch.drop_column("original_id")
