"""De-duplicate: the key under which the same package sent twice is stored once.

The lookup happens in the writer, one query per batch (hub/ingest/persist.py).
"""

from __future__ import annotations

from core.model import Kind
from hub.ingest.submission import Submission


def dedup_key(sub: Submission) -> str:
    """Documents: sender, DocumentId and BussinessDocType. Statuses: sender, document, code,
    timestamp."""
    env = sub.parsed
    if env.kind is Kind.DOCUMENT:
        return f"doc|{env.sender}|{env.document_id}|{env.business_doc_type}"
    rf = env.response_for
    stamp = env.header.get("timestamp", "")
    return f"status|{env.sender}|{rf.document_id if rf else ''}|{env.status_code}|{stamp}"
