"""De-duplicate: the same package sent twice is stored once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.ingest.submission import Submission
from hub.model import Kind
from hub.store.models import Message


def dedup_key(sub: Submission) -> str:
    """Documents: sender, DocumentId and BussinessDocType. Statuses: sender, document, code,
    timestamp."""
    env = sub.parsed
    if env.kind is Kind.DOCUMENT:
        return f"doc|{env.sender}|{env.document_id}|{env.business_doc_type}"
    rf = env.response_for
    stamp = env.header.get("timestamp", "")
    return f"status|{env.sender}|{rf.document_id if rf else ''}|{env.status_code}|{stamp}"


def find_duplicate(session: Session, key: str) -> Message | None:
    return session.execute(select(Message).where(Message.dedup_key == key)).scalar_one_or_none()
