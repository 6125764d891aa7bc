"""Lifecycle: where a message stands in its document's life, found in the writer.

An update (BussinessDocType 2), a revocation (1), a replacement (3) and a recall (status 13)
reach every recipient of the original document, whoever the package itself lists (the
units it lists beyond them are served too), and are linked to it (`messages.original_id`).
Every status is linked to the original document of the thread it answers as well.

The original is the sender's own earlier document (BussinessDocType 0, or a replacement)
under the DocumentId the package names: its own DocumentId for an update or a revocation;
for a replacement, the DocumentIds of its ReplacementInfoList in order, then its own. A
status 13 names its document in ResponseFor (hub/ingest/correlate.py). An update whose
original the hub never carried is delivered to the units it lists, with the warning
`original_unknown` in the answer, the message record and the audit trail.

Order: a message's delivery to a recipient waits (state `waiting`, `after_delivery_id`)
for the latest earlier delivery to that recipient in the same thread from the same sender,
until that one is delivered: an update never reaches a unit before its original, and one
unit's statuses about a document reach its sender in the order they were sent.
docs/lifecycle.md tells the rules and why.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.errors import FieldError
from core.model import BusinessDocType, Envelope, Kind
from hub.delivery.release import FINISHED
from hub.ingest.submission import Lineage, Submission
from hub.store.models import Delivery, Message
from routing.directory import Directory
from routing.router import Route
from schemas.problems import CodedFieldError

RECALL = "13"
_ORIGINAL_TYPES = (BusinessDocType.NEW.value, BusinessDocType.REPLACE.value)


def is_lifecycle(env: Envelope) -> bool:
    """An update, revocation or replacement, or a recall (status 13)."""
    if env.kind is Kind.DOCUMENT:
        return env.business_doc_type != BusinessDocType.NEW.value
    return env.status_code == RECALL


def original_document_ids(env: Envelope) -> list[str]:
    """The DocumentIds under which the original of an update, revocation or replacement is
    looked for, in order (see the module docstring)."""
    wanted: list[str] = []
    if env.business_doc_type == BusinessDocType.REPLACE.value:
        business = env.header.get("traceHeaderList", {}).get("bussiness", {})
        for info in business.get("replacementInfoList") or []:
            if isinstance(info, dict) and info.get("documentId"):
                wanted.append(str(info["documentId"]))
    if env.document_id:
        wanted.append(env.document_id)
    return list(dict.fromkeys(wanted))


def link(sub: Submission, session: Session, directory: Directory) -> None:
    """Set `sub.lineage` for an update, revocation, replacement or status, and widen the
    routes of an update, revocation, replacement or recall to every recipient of the
    original. Runs in the writer's transaction, after correlate. A new document (0) has
    no lineage. Raises what the database raises."""
    env = sub.parsed
    sender = directory.canonical(env.sender) or env.sender
    warnings: list[FieldError] = []
    if env.kind is Kind.DOCUMENT:
        if not is_lifecycle(env):
            return
        root = _find_original(session, sender, original_document_ids(env))
        if root is None:
            sub.lineage = Lineage(warnings=[_unknown_original(env)])
            return
    elif sub.original_id is not None:
        root = _root_of(session, sub.original_id)
    else:
        return
    if is_lifecycle(env):
        warnings = _widen(sub, session, directory, root)
    sub.lineage = Lineage(
        original_id=root, warnings=warnings,
        after=_predecessors(session, root, sender, [rt.recipient for rt in sub.routes]))


def _find_original(session: Session, sender: str, document_ids: list[str]) -> str | None:
    if not document_ids:
        return None
    rows = session.execute(
        select(Message.id, Message.document_id, Message.original_id)
        .where(Message.kind == Kind.DOCUMENT.value, Message.sender_org == sender,
               Message.document_id.in_(document_ids),
               Message.business_doc_type.in_(_ORIGINAL_TYPES),
               Message.supplement_to.is_(None))
        .order_by(Message.received_at, Message.id)
    ).all()
    first: dict[str, Any] = {}
    for row in rows:
        first.setdefault(row.document_id, row)
    for document_id in document_ids:
        if document_id in first:
            row = first[document_id]
            # a replacement found by its own DocumentId belongs to its original's thread
            return str(row.original_id or row.id)
    return None


def _root_of(session: Session, message_id: str) -> str:
    row = session.execute(
        select(Message.original_id, Message.supplement_to).where(Message.id == message_id)
    ).one()
    return str(row.original_id or row.supplement_to or message_id)


def _thread(session: Session, root: str, *where: Any) -> list[str]:
    """The ids of the thread's messages (the original, its supplements, everything linked
    to it) that match `where`: read by the three indexed links first, so that their
    deliveries are then read by message, never by scanning a busy recipient's."""
    return list(session.execute(
        select(Message.id).where(
            or_(Message.id == root, Message.supplement_to == root, Message.original_id == root),
            *where)
    ).scalars())


def _widen(sub: Submission, session: Session, directory: Directory,
           root: str) -> list[FieldError]:
    """Add every unit the thread's documents reached to `sub.routes`; a unit no system
    receives for any more is said in a warning."""
    documents = _thread(session, root, Message.kind == Kind.DOCUMENT.value)
    reached = session.execute(
        select(Delivery.recipient_org).where(Delivery.message_id.in_(documents)).distinct()
    ).scalars().all()
    routes = {rt.recipient: rt for rt in sub.routes}
    warnings: list[FieldError] = []
    for code in sorted(reached):
        canonical = directory.canonical(code)
        system = directory.receiver_for(code) if canonical else None
        if canonical is None or system is None:
            warnings.append(CodedFieldError(
                "/to", f"{code} received the original document, but no connected system "
                       "receives for it any more: it does not receive this one",
                f"{code} đã nhận văn bản gốc nhưng nay không còn hệ thống nào nhận văn bản "
                "cho đơn vị này: đơn vị không nhận được văn bản này",
                None, "original_recipient_unreachable"))
        elif canonical not in routes:
            routes[canonical] = Route(canonical, system)
    sub.routes = list(routes.values())
    return warnings


def _predecessors(session: Session, root: str, sender: str,
                  recipients: Iterable[str]) -> dict[str, tuple[str, bool]]:
    """For each recipient, the latest delivery to it in the thread from the same sender,
    and whether it is finished. Read without a lock: a predecessor finished between this
    read and the commit is noticed by the sweeper (hub/delivery/release.py)."""
    mine = _thread(session, root, Message.sender_org == sender)
    if not mine:
        return {}
    rows = session.execute(
        select(Delivery.id, Delivery.recipient_org, Delivery.state)
        .where(Delivery.message_id.in_(mine), Delivery.recipient_org.in_(list(recipients)))
        .order_by(Delivery.created_at, Delivery.id)
    ).all()
    latest: dict[str, tuple[str, bool]] = {}
    for row in rows:
        latest[row.recipient_org] = (row.id, row.state in FINISHED)
    return latest


def _unknown_original(env: Envelope) -> CodedFieldError:
    wanted = ", ".join(original_document_ids(env)) or "(none)"
    return CodedFieldError(
        "/traceHeaderList/bussiness/bussinessDocType",
        f"the hub carried no document of {env.sender} under {wanted} that this package "
        f"(BussinessDocType {env.business_doc_type}) could change: it goes only to the units "
        "it lists",
        f"trục chưa chuyển văn bản nào của {env.sender} có mã {wanted} để văn bản này "
        f"(BussinessDocType {env.business_doc_type}) thay đổi: văn bản chỉ được gửi tới "
        "các đơn vị có trong danh sách nơi nhận",
        None, "original_unknown")
