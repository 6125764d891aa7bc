"""The hub's tables: messages (raw bytes never modified), deliveries, attempts, outbox.

The audit chain's tables live with the chain, in security/audit_tables.py. A package's bytes
may be sealed at rest (security/atrest.py): read them only through hub/store/raw.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.tables import Base, utcnow


class Message(Base):
    """A package exactly as received, with what the pipeline learnt from it."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    form: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(8))
    sender_system: Mapped[str] = mapped_column(String(64), index=True)
    sender_org: Mapped[str] = mapped_column(String(32))
    document_id: Mapped[str | None] = mapped_column(String(200))
    business_doc_type: Mapped[str] = mapped_column(String(2), default="0")
    status_code: Mapped[str | None] = mapped_column(String(2))
    # a status package points at the document it answers
    response_to: Mapped[str | None] = mapped_column(ForeignKey("messages.id"))
    # unique: a document's first package has its key (hub/ingest/deduplicate.py); a
    # supplement (the same document to further recipients) gets it suffixed with its own id
    dedup_key: Mapped[str] = mapped_column(String(600), unique=True)
    # the content digest that tells the same document from another under the same key
    content_digest: Mapped[str | None] = mapped_column(String(64))
    # a supplement points at the document's first message
    supplement_to: Mapped[str | None] = mapped_column(ForeignKey("messages.id"), index=True)
    # an update, replacement or recall, and every status, points at the original document
    # of its thread (docs/lifecycle.md)
    original_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id"), index=True)
    subject: Mapped[str] = mapped_column(String(500), default="")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # the package as stored, in column `raw`: sealed when protection at rest is on, so it is
    # read only through hub.store.raw.raw_of (the attribute's name keeps `message.raw` from
    # handing ciphertext to a reader)
    stored_raw: Mapped[bytes] = mapped_column("raw", LargeBinary)
    # SHA-256 of the package as received (the plaintext), whether or not it is sealed
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON)
    # the recipient groups the package named, as expanded: [{code, name, members}]
    groups: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="message", order_by="Delivery.recipient_org"
    )

    __table_args__ = (Index("ix_messages_document", "document_id", "sender_org"),)


class Delivery(Base):
    """One recipient of one message, and how far its delivery has got."""

    __tablename__ = "deliveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    recipient_org: Mapped[str] = mapped_column(String(32))
    system_id: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(8))  # push | pull
    adapter: Mapped[str] = mapped_column(String(32))
    form: Mapped[str] = mapped_column(String(8))  # the form the receiver wants
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # a document's key (its first message's dedup_key): unique with the recipient, so no
    # recipient is sent the same document twice, whichever process stores it
    document_key: Mapped[str | None] = mapped_column(String(600))
    # NĐ 30/2020 deadlines (routing/deadlines.py), kept by the scanner (hub/deadlines.py):
    # True while a duty may still fall due or be met; None for rows stored before they were
    # kept (their deadlines are not looked at)
    deadlines_open: Mapped[bool | None] = mapped_column(Boolean, default=True)
    # receipt: due the same working day the document reached the recipient; met by a
    # status 01-06 (or an answering document), recorded when; flagged late when
    receipt_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    receipt_confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    receipt_flagged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # answer, for a document with a DueDate: met by status 06 or 02, or an answering document
    answer_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[str | None] = mapped_column(String(16))
    answer_flagged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # the routing rule that added this recipient (copy_to) or chose its system (via)
    rule: Mapped[str | None] = mapped_column(String(64))
    # held (state `waiting`) until this earlier delivery to the same recipient is delivered:
    # an update never overtakes its original, a status never overtakes the one before it
    after_delivery_id: Mapped[str | None] = mapped_column(ForeignKey("deliveries.id"),
                                                          index=True)

    message: Mapped[Message] = relationship(back_populates="deliveries")
    attempt_log: Mapped[list[Attempt]] = relationship(order_by="Attempt.number")

    __table_args__ = (
        UniqueConstraint("message_id", "recipient_org", name="uq_delivery_recipient"),
        UniqueConstraint("document_key", "recipient_org", name="uq_delivery_document"),
        Index("ix_deliveries_system_state", "system_id", "state"),
        Index("ix_deliveries_deadlines_open", "deadlines_open"),
    )


class Attempt(Base):
    """One try at handing a delivery to its receiver."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(16))  # ok | transient | permanent
    detail: Mapped[str] = mapped_column(Text, default="")
    worker: Mapped[str] = mapped_column(String(64), default="")


class StatusRecord(Base):
    """A business status (01-06, 13, 15, 16) received for a document."""

    __tablename__ = "status_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    status_message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"))
    status_code: Mapped[str] = mapped_column(String(2))
    from_org: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    timestamp: Mapped[str] = mapped_column(String(40), default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Outbox(Base):
    """A delivery still owed to the broker; gone once the delivery is finished."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id"), unique=True)
    available_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    priority: Mapped[int] = mapped_column(Integer, default=0)


class DestinationHealth(Base):
    """A receiving system's circuit breaker (hub/delivery/breaker.py): closed (deliveries go),
    open (they wait until `retry_at`), half_open (one probe is out, until `retry_at`)."""

    __tablename__ = "destination_health"

    system_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="closed")
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive transient ones
    opened_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    retry_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
