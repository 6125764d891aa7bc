"""Correlate: a status package must answer a document the hub carried between the parties."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.errors import FieldError, UnknownDocument
from core.model import Kind
from hub.ingest.submission import Submission
from hub.store.models import Message
from routing.directory import Directory


def correlate(sub: Submission, session: Session, directory: Directory) -> None:
    """Find the document a status answers and set `sub.original_id`.

    The status goes between the document's sender and one of its recipients, either way
    (a receiver's 01-06, 15, 16 back to the sender; the sender's 13 recall to a receiver).
    Raises UnknownDocument when no such document passed through the hub.
    """
    env = sub.parsed
    if env.kind is not Kind.STATUS or env.response_for is None:
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
