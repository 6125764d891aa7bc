"""Persist: each message with its deliveries, outbox rows and audit events, many per commit.

Submissions arriving together are written in one transaction (group commit): the fsync of a
commit is paid once per batch rather than once per message, and the audit chain's head is
locked once per batch. A batch forms only while the previous commit is in flight, so a lone
submission waits for nobody. Every submitter is answered only after its batch commits.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import HubError, PermanentError
from core.model import Kind
from core.tables import table_of
from hub.ingest.correlate import correlate
from hub.ingest.deduplicate import DocumentIdReused
from hub.ingest.lifecycle import link
from hub.ingest.submission import (
    ALREADY_SENT,
    NEW,
    Lineage,
    Receipt,
    RecipientStatus,
    Submission,
)
from hub.store.db import Database
from hub.store.models import Delivery, Message, Outbox, StatusRecord
from hub.store.raw import sealed
from routing.directory import Directory
from routing.router import Route
from security import audit
from security.atrest import Sealer

log = logging.getLogger(__name__)


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Rows:
    """Everything one accepted submission adds to the store."""

    receipt: Receipt
    message: dict[str, Any]
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    events: list[audit.PendingEvent] = field(default_factory=list)

    @property
    def outbox_ids(self) -> list[str]:
        return [o["delivery_id"] for o in self.outbox]


def build_rows(sub: Submission, directory: Directory, *, routes: list[Route] | None = None,
               supplement_to: str | None = None) -> Rows:
    """The rows of one accepted submission (no I/O).

    `routes` the recipients it is delivered to (all by default); for a supplement, those
    not served by the document's earlier packages, and `supplement_to` the first message.
    `sub.lineage` (hub/ingest/lifecycle.py) links it to its original document and holds a
    delivery back (`waiting`) behind its recipient's earlier one, until that is delivered.
    """
    env = sub.parsed
    now = sub.received_at
    message_id = new_id()
    sender_org = directory.canonical(env.sender) or env.sender
    document_id = env.document_id or (env.response_for.document_id if env.response_for else None)
    digest = hashlib.sha256(sub.raw).hexdigest()
    routes = sub.routes if routes is None else routes
    fresh = {rt.recipient for rt in routes}
    # a supplement keeps its own bytes under a key of its own; the document's key goes on
    # its deliveries, where (key, recipient) is unique
    key = sub.dedup_key if supplement_to is None else f"{sub.dedup_key}|+{message_id}"
    document_key = sub.dedup_key if env.kind is Kind.DOCUMENT else None
    lineage = sub.lineage or Lineage()
    meta = env.metadata()
    if lineage.warnings:
        meta["warnings"] = [*meta["warnings"], *(w.as_dict() for w in lineage.warnings)]
    if sub.hops:
        meta["hops"] = [h.as_dict() for h in sub.hops]
    rows = Rows(
        receipt=Receipt(id=message_id, kind=env.kind, document_id=document_id,
                        status="accepted", recipients=[rt.recipient for rt in sub.routes],
                        deliveries=[recipient_status(rt, NEW if rt.recipient in fresh
                                                     else ALREADY_SENT) for rt in sub.routes],
                        supplement_to=supplement_to, groups=sub.groups,
                        original=lineage.original_id, warnings=lineage.warnings),
        message={
            "id": message_id, "kind": env.kind.value, "form": env.form.value,
            "channel": sub.channel, "sender_system": sub.system.id, "sender_org": sender_org,
            "document_id": document_id, "business_doc_type": env.business_doc_type,
            "status_code": env.status_code, "response_to": sub.original_id,
            "dedup_key": key, "content_digest": sub.content_digest,
            "supplement_to": supplement_to, "original_id": lineage.original_id,
            "subject": env.subject[:500],
            "priority": env.priority, "raw": sub.raw, "sha256": digest, "size": len(sub.raw),
            "meta": meta, "received_at": now, "groups": sub.groups or None,
        },
    )
    routed = []
    for rt in routes:
        receive = rt.system.receive
        push = receive.mode == "push"
        delivery_id = new_id()
        after, finished = lineage.after.get(rt.recipient, (None, True))
        rows.deliveries.append({
            "id": delivery_id, "message_id": message_id, "recipient_org": rt.recipient,
            "system_id": rt.system.id, "mode": receive.mode,
            "adapter": receive.adapter if push else "inbox", "form": receive.format,
            "state": "waiting" if not finished else "pending" if push else "available",
            "attempts": 0, "created_at": now, "updated_at": now,
            "document_key": document_key, "after_delivery_id": after, "rule": rt.rule,
        })
        routed.append({"recipient": rt.recipient, "system": rt.system.id,
                       "mode": receive.mode, "delivery_id": delivery_id,
                       **({"rule": rt.rule, "how": rt.how} if rt.rule else {}),
                       **({"after": after} if not finished else {})})
        if push and finished:
            # marked dispatched now: the enqueue follows the commit; the sweeper covers a miss
            rows.outbox.append({"delivery_id": delivery_id, "available_at": now,
                                "dispatched_at": now, "priority": env.priority})
    # what the security team searches by: the organisations concerned, DocumentId, SHA-256
    orgs = (sender_org, *(rt.recipient for rt in routes))
    received: dict[str, Any] = {
        "kind": env.kind.value, "form": env.form.value, "channel": sub.channel,
        "sender": env.sender, "business_doc_type": env.business_doc_type,
        "status_code": env.status_code, "size": len(sub.raw),
        "warnings": [w.as_dict() for w in (*env.warnings, *lineage.warnings)],
        "signature": env.signature}
    if sub.groups:
        received["groups"] = sub.groups
    if env.kind is Kind.DOCUMENT and sub.lineage is not None:
        received["original"] = lineage.original_id
    if supplement_to is not None:
        received["supplement_to"] = supplement_to
        received["already_sent"] = [rt.recipient for rt in sub.routes
                                    if rt.recipient not in fresh]
    rows.events = [
        audit.PendingEvent("message.received", actor=sub.system.id, message_id=message_id,
                           detail=received, organizations=orgs, document_id=document_id,
                           sha256=digest),
        audit.PendingEvent("message.routed", actor="hub", message_id=message_id,
                           detail={"deliveries": routed}, organizations=orgs,
                           document_id=document_id, sha256=digest),
    ]
    if env.kind is Kind.STATUS and sub.original_id:
        # the document's one history, whichever of its packages (first, supplement, update)
        # the status answers: that one is the status message's response_to
        history_of = lineage.original_id or sub.original_id
        rows.statuses.append({
            "message_id": history_of, "status_message_id": message_id,
            "status_code": env.status_code or "", "from_org": sender_org,
            "description": str(env.header.get("description", ""))[:4000],
            "timestamp": str(env.header.get("timestamp", "")), "recorded_at": now,
        })
        rows.events.append(audit.PendingEvent(
            "status.recorded", actor=sub.system.id, message_id=history_of,
            detail={"status_code": env.status_code, "status_message_id": message_id},
            organizations=orgs, document_id=document_id, sha256=digest))
    return rows


@dataclass(frozen=True)
class _First:
    """The first message stored under a key: what a later package is compared with."""

    id: str
    document_id: str | None
    content_digest: str | None
    sha256: str

    def same_document(self, sub: Submission) -> bool:
        # messages stored before content digests existed compare by their exact bytes
        if self.content_digest is not None and self.content_digest == sub.content_digest:
            return True
        return self.sha256 == hashlib.sha256(sub.raw).hexdigest()


@dataclass
class _Pending:
    sub: Submission
    future: Future[tuple[Receipt, list[str]]] = field(default_factory=Future)


@dataclass
class _AuditOnly:
    """Audit events with no message (a rejection): they ride along with the next batch."""

    events: list[audit.PendingEvent]
    future: Future[None] = field(default_factory=Future)


def write_batch(session: Session, batch: list[_Pending], directory: Directory,
                sealer: Sealer) -> list[Rows]:
    """Write a batch in the caller's transaction; set each submitter's answer on success.

    A package under a key already held is a duplicate, a supplement or a reused DocumentId
    (hub/ingest/deduplicate.py). Items refused here (a status for an unknown document, a
    reused DocumentId) get their exception at once. Raises IntegrityError when another
    process stored one of the packages, or served one of the recipients, meanwhile.
    """
    keys = [p.sub.dedup_key for p in batch]
    # Core statements on the session's connection: the ORM layer costs more than the database
    conn = session.connection()
    messages = table_of(Message)
    deliveries = table_of(Delivery)
    existing = {
        row.dedup_key: _First(row.id, row.document_id, row.content_digest, row.sha256)
        for row in conn.execute(
            select(messages.c.dedup_key, messages.c.id, messages.c.document_id,
                   messages.c.content_digest, messages.c.sha256)
            .where(messages.c.dedup_key.in_(keys)))
    }
    # who each document has been sent to already, by any of its packages
    served: dict[str, set[str]] = {}
    doc_keys = [k for k in keys if k in existing and k.startswith("doc|")]
    if doc_keys:
        for row in conn.execute(
                select(deliveries.c.document_key, deliveries.c.recipient_org)
                .where(deliveries.c.document_key.in_(doc_keys))):
            served.setdefault(row.document_key, set()).add(row.recipient_org)
    accepted: list[tuple[_Pending, Rows]] = []
    answers: list[tuple[_Pending, Receipt]] = []
    replays: list[audit.PendingEvent] = []
    for p in batch:
        sub = p.sub
        first = existing.get(sub.dedup_key)
        supplement_to = None
        if first is not None and sub.kind is Kind.DOCUMENT and not first.same_document(sub):
            p.future.set_exception(DocumentIdReused(first.document_id, first.id))
            continue
        if first is not None and sub.kind is not Kind.DOCUMENT:
            answers.append((p, duplicate_receipt(sub, first.id, first.document_id)))
            replays.append(_replay_event(sub, first.id, first.document_id))
            continue
        # the routing snapshot the submission started with (hub/routing_config.py)
        snapshot = sub.directory or directory
        try:
            correlate(sub, session, snapshot)
            # an update, replacement or recall: to every recipient of its original
            link(sub, session, snapshot)
        except PermanentError as exc:
            p.future.set_exception(exc)
            continue
        fresh = sub.routes
        if first is not None:
            done = served.get(sub.dedup_key, set())
            fresh = [rt for rt in sub.routes if rt.recipient not in done]
            if not fresh:
                answers.append((p, duplicate_receipt(sub, first.id, first.document_id)))
                replays.append(_replay_event(sub, first.id, first.document_id))
                continue
            supplement_to = first.id
        rows = build_rows(sub, snapshot, routes=fresh, supplement_to=supplement_to)
        if first is None:
            existing[sub.dedup_key] = _First(rows.receipt.id, rows.receipt.document_id,
                                             sub.content_digest, rows.message["sha256"])
        served.setdefault(sub.dedup_key, set()).update(rt.recipient for rt in fresh)
        accepted.append((p, rows))
    all_rows = [r for _, r in accepted]
    if all_rows:
        # sealed at the last moment, only what is really stored (hub/store/raw.py)
        conn.execute(insert(messages), [
            {**r.message, "raw": sealed(sealer, r.message["id"], r.message["raw"])}
            for r in all_rows])
        for model, key in ((Delivery, "deliveries"), (Outbox, "outbox"),
                           (StatusRecord, "statuses")):
            values = [row for r in all_rows for row in getattr(r, key)]
            if values:
                conn.execute(insert(table_of(model)), values)
    events = [e for r in all_rows for e in r.events] + replays
    if events:
        audit.append(session, events)
    # answers are released by the caller only after the commit succeeds
    session.info.setdefault("answers", []).extend(
        [(p, (rows.receipt, rows.outbox_ids)) for p, rows in accepted]
        + [(p, (receipt, [])) for p, receipt in answers])
    return all_rows


def _replay_event(sub: Submission, first_id: str, document_id: str | None) -> audit.PendingEvent:
    """A package sent again is answered with the first one's id and stored nothing new; the
    audit records that it came again, from whom and by which channel (a replay is evidence
    too)."""
    return audit.PendingEvent(
        "message.duplicate", actor=sub.system.id, message_id=first_id,
        detail={"channel": sub.channel, "kind": sub.kind.value},
        organizations=[sub.parsed.sender], document_id=document_id,
        sha256=hashlib.sha256(sub.raw).hexdigest())


def duplicate_receipt(sub: Submission, first_id: str, document_id: str | None) -> Receipt:
    """Every recipient was served by the first package (or an earlier supplement)."""
    lineage = sub.lineage or Lineage()
    return Receipt(id=first_id, kind=sub.kind, document_id=document_id, status="duplicate",
                   recipients=[rt.recipient for rt in sub.routes],
                   deliveries=[recipient_status(rt, ALREADY_SENT) for rt in sub.routes],
                   groups=sub.groups, original=lineage.original_id, warnings=lineage.warnings)


def recipient_status(rt: Route, status: str) -> RecipientStatus:
    """What the submitter is told of one recipient: whether this submission serves it, and
    the routing rule behind it, if any."""
    return RecipientStatus(rt.recipient, status, rt.rule,
                           rt.system.id if rt.how == "via" else None)


class GroupCommitter:
    """One writer thread per process that commits waiting submissions together."""

    def __init__(self, db: Database, directory: Directory, max_batch: int = 200,
                 sealer: Sealer | None = None) -> None:
        self.db = db
        self.directory = directory
        # protection at rest (HubContext.build sets the configured one)
        self.sealer = sealer or Sealer()
        self.max_batch = max_batch
        self._queue: queue.Queue[_Pending | _AuditOnly | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def store(self, sub: Submission) -> tuple[Receipt, list[str]]:
        """Store one submission; return its receipt and its outbox deliveries once committed.

        Raises UnknownDocument (a status for no known document), DocumentIdReused (the key
        of another document) or ServiceUnavailable.
        """
        self._ensure_thread()
        pending = _Pending(sub)
        self._queue.put(pending)
        return pending.future.result()

    def record(self, events: list[audit.PendingEvent]) -> None:
        """Append audit events in the next batch; return once committed.

        A flood of rejected requests thus costs one transaction per batch, not per request.
        Raises ServiceUnavailable when the database is down.
        """
        self._ensure_thread()
        pending = _AuditOnly(events)
        self._queue.put(pending)
        pending.future.result()

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="lienthong-writer",
                                                    daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            self._commit(batch)

    def _commit(self, batch: list[_Pending | _AuditOnly]) -> None:
        try:
            self._write(batch)
        except IntegrityError:
            # another process stored one of these, or served one of their recipients,
            # meanwhile: redo them one by one, so each sees the other's rows and is answered
            # as a duplicate, a supplement to the new recipients only, or a reused DocumentId
            for p in batch:
                if p.future.done():
                    continue
                try:
                    self._write([p])
                except Exception as exc:  # noqa: BLE001 - handed to the submitter
                    if not p.future.done():
                        p.future.set_exception(_as_hub_error(exc))
        except Exception as exc:  # noqa: BLE001 - handed to every submitter
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(_as_hub_error(exc))

    def _write(self, batch: list[_Pending | _AuditOnly]) -> None:
        submissions = [p for p in batch if isinstance(p, _Pending)]
        audit_only = [p for p in batch if isinstance(p, _AuditOnly)]
        with self.db.transaction() as session:
            if submissions:
                write_batch(session, submissions, self.directory, self.sealer)
            if audit_only:
                audit.append(session, [e for p in audit_only for e in p.events])
            answers = session.info.pop("answers", [])
        for p, answer in answers:
            p.future.set_result(answer)
        for a in audit_only:
            a.future.set_result(None)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None


def _as_hub_error(exc: Exception) -> Exception:
    if isinstance(exc, HubError):
        return exc
    log.exception("storing a batch failed", exc_info=exc)
    err = HubError("the message could not be stored; it was not accepted",
                   code="store_failed")
    err.__cause__ = exc
    return err
