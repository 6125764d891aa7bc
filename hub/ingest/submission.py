"""The submission: what flows through the ingest steps, filled in as it goes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from core.errors import FieldError
from core.hops import Hop
from core.model import Envelope, Kind
from routing.directory import Directory, System
from routing.router import Route


@dataclass
class Lineage:
    """Where a message stands in its document's life (hub/ingest/lifecycle.py): the original
    document of its thread, and for each recipient the earlier delivery it waits for."""

    # the thread's original document; None for an update whose original the hub never saw
    original_id: str | None = None
    # recipient -> (the delivery it waits for, whether that one is finished already)
    after: dict[str, tuple[str, bool]] = field(default_factory=dict)
    # said in the answer, the message record and the audit trail (never silently)
    warnings: list[FieldError] = field(default_factory=list)


@dataclass
class Submission:
    system: System
    raw: bytes
    media_type: str
    kind: Kind
    channel: str  # rest | soap
    # the directory of the routing snapshot the submission started with: every step, the
    # writer included, reads this one even if a reload swaps the snapshot meanwhile
    directory: Directory | None = None
    received_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    envelope: Envelope | None = None
    routes: list[Route] = field(default_factory=list)
    # the recipient groups the package named, as expanded (routing/groups.py Expansion)
    groups: list[dict[str, Any]] = field(default_factory=list)
    dedup_key: str = ""
    # a document's content digest (hub/ingest/deduplicate.py); None for a status
    content_digest: str | None = None
    # for a status: the document it answers
    original_id: str | None = None
    # an update, replacement, recall or status: its thread (hub/ingest/lifecycle.py)
    lineage: Lineage | None = None
    # the hubs the package passed through before this one (core/hops.py), oldest first
    hops: tuple[Hop, ...] = ()

    @property
    def parsed(self) -> Envelope:
        if self.envelope is None:
            raise RuntimeError("the submission has not been parsed yet")
        return self.envelope


NEW = "new"
ALREADY_SENT = "already_sent"


@dataclass(frozen=True)
class RecipientStatus:
    """One recipient of a submission: served by this submission (`new`) or by an earlier
    package of the same document (`already_sent`), never sent the document twice."""

    recipient: str
    status: str  # new | already_sent
    # the routing rule that added the recipient (copy_to) or chose its system (via)
    rule: str | None = None
    # the system that receives for it, when a `via` rule chose it
    via: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = {"recipient": self.recipient, "status": self.status}
        if self.rule is not None:
            out["rule"] = self.rule
        if self.via is not None:
            out["via"] = self.via
        return out


@dataclass(frozen=True)
class Receipt:
    """What the submitter is told: the hub's id and who will receive it.

    `recipients` names every recipient that receives the document, from this submission or
    an earlier one; `deliveries` says which, one entry per recipient. A supplement (the same
    document to further recipients) names the first message in `supplement_to`; an update,
    replacement or recall names its original document in `original`, and `warnings` says
    when there is none the hub knows (docs/lifecycle.md).
    """

    id: str
    kind: Kind
    document_id: str | None
    status: str  # accepted | duplicate
    recipients: list[str]
    deliveries: list[RecipientStatus] = field(default_factory=list)
    supplement_to: str | None = None
    # the recipient groups the package named: [{code, name, members}] (routing/groups.py)
    groups: list[dict[str, Any]] = field(default_factory=list)
    original: str | None = None
    warnings: list[FieldError] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id,
            "kind": self.kind.value,
            "document_id": self.document_id,
            "status": self.status,
            "recipients": self.recipients,
            "groups": self.groups,
            "deliveries": [d.as_dict() for d in self.deliveries],
        }
        if self.supplement_to is not None:
            out["supplement_to"] = self.supplement_to
        if self.original is not None:
            out["original"] = self.original
        if self.warnings:
            out["warnings"] = [w.as_dict() for w in self.warnings]
        return out
