"""The submission: what flows through the ingest steps, filled in as it goes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from core.model import Envelope, Kind
from routing.directory import System
from routing.router import Route


@dataclass
class Submission:
    system: System
    raw: bytes
    media_type: str
    kind: Kind
    channel: str  # rest | soap
    received_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    envelope: Envelope | None = None
    routes: list[Route] = field(default_factory=list)
    dedup_key: str = ""
    # for a status: the document it answers
    original_id: str | None = None

    @property
    def parsed(self) -> Envelope:
        if self.envelope is None:
            raise RuntimeError("the submission has not been parsed yet")
        return self.envelope


@dataclass(frozen=True)
class Receipt:
    """What the submitter is told: the hub's id and who will receive it."""

    id: str
    kind: Kind
    document_id: str | None
    status: str  # accepted | duplicate
    recipients: list[str]

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "document_id": self.document_id,
            "status": self.status,
            "recipients": self.recipients,
        }
