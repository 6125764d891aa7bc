"""Correlate: a status package must answer a document the hub carried between the parties;
a document answering another (its ResponseFor) is linked to it when the hub carried it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.errors import FieldError, UnknownDocument
from core.model import Kind
from hub.ingest.submission import Submission
from hub.store.models import Delivery, Message
from routing.directory import Directory


def correlate(sub: Submission, session: Session, directory: Directory) -> None:
    """Find the document a status answers and set `sub.original_id`; for a document, the
    document it answers, if the hub carried it (`answered_document`).

    The status goes between the document's sender and one of its recipients, either way
    (a receiver's 01-06, 15, 16 back to the sender; the sender's 13 recall to a receiver).
    Raises UnknownDocument when no such document passed through the hub (for a status).
    """
    env = sub.parsed
    if env.kind is Kind.DOCUMENT:
        sub.original_id = answered_document(sub, session, directory)
        return
    if env.response_for is None:
        return
    rf = env.response_for
    me = directory.canonical(env.sender) or env.sender
    other = directory.canonical(rf.organ_id) or rf.organ_id
    candidates = session.execute(
        select(Message)
        .where(Message.kind == Kind.DOCUMENT.value, Message.document_id == rf.document_id)
        .options(selectinload(Message.deliveries))
        .order_by(Message.received_at.desc())
    ).scalars()
    for doc in candidates:
        recipients = {d.recipient_org for d in doc.deliveries}
        if (doc.sender_org == other and me in recipients) or (
            doc.sender_org == me and other in recipients
        ):
            sub.original_id = doc.id
            return
    raise UnknownDocument(
        f"no document {rf.document_id!r} passed between {env.sender} and {rf.organ_id}",
        errors=[FieldError("/responseFor/documentId",
                           "the hub carried no such document between these organisations",
                           "trục chưa chuyển văn bản này giữa hai cơ quan")],
        detail_vi=f"Không tìm thấy văn bản {rf.document_id!r} giữa {env.sender} và {rf.organ_id}",
    )


def answered_document(sub: Submission, session: Session, directory: Directory) -> str | None:
    """The document a document answers: the first entry of its ResponseFor naming a document
    the hub carried from that entry's organisation to the answering sender (None when none
    does; an answer to a document that went another way is still a document, not an error).

    What the NĐ 30/2020 answer deadline counts as an answer (routing/deadlines.py).
    """
    entries = sub.parsed.header.get("responseFor")
    me = directory.canonical(sub.parsed.sender) or sub.parsed.sender
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not entry.get("documentId"):
            continue
        issuer = str(entry.get("organId", ""))
        issuer = directory.canonical(issuer) or issuer
        found = session.execute(
            select(Message.id)
            .join(Delivery, Delivery.message_id == Message.id)
            .where(Message.kind == Kind.DOCUMENT.value,
                   Message.document_id == str(entry["documentId"]),
                   Message.sender_org == issuer, Delivery.recipient_org == me)
            .order_by(Message.received_at.desc())
            .limit(1)
        ).scalar()
        if found is not None:
            return str(found)
    return None
