"""supplements: content digest and link to the first message; one delivery per recipient
and document

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        # messages stored before this revision have no digest: a later package is the same
        # document only if its bytes are the same (hub/ingest/persist.py)
        batch.add_column(sa.Column("content_digest", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("supplement_to", sa.String(length=36), nullable=True))
        batch.create_foreign_key("fk_messages_supplement_to", "messages",
                                 ["supplement_to"], ["id"])
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("document_key", sa.String(length=600), nullable=True))
    # every document delivery so far served its message's key: a supplement then skips them
    op.execute(
        "UPDATE deliveries SET document_key = (SELECT m.dedup_key FROM messages m "
        "WHERE m.id = deliveries.message_id AND m.kind = 'document')"
    )
    with op.batch_alter_table("deliveries") as batch:
        batch.create_unique_constraint("uq_delivery_document", ["document_key", "recipient_org"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("uq_delivery_document", type_="unique")
        batch.drop_column("document_key")
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("fk_messages_supplement_to", type_="foreignkey")
        batch.drop_column("supplement_to")
        batch.drop_column("content_digest")
