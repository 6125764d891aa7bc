"""Persist: the message, its deliveries, outbox rows and audit events in one transaction."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy.orm import Session

from hub.ingest.submission import Receipt, Submission
from hub.model import Kind
from hub.store.models import Delivery, Message, Outbox, StatusRecord
from routing.directory import Directory
from security import audit


def new_id() -> str:
    return str(uuid.uuid4())


def persist(sub: Submission, session: Session, directory: Directory) -> tuple[Receipt, list[str]]:
    """Store everything the submission needs; return the receipt and the outbox deliveries.

    Raises sqlalchemy.exc.IntegrityError when a concurrent duplicate won the race.
    """
    env = sub.parsed
    now = sub.received_at
    message = Message(
        id=new_id(),
        kind=env.kind.value,
        form=env.form.value,
        channel=sub.channel,
        sender_system=sub.system.id,
        sender_org=directory.canonical(env.sender) or env.sender,
        document_id=env.document_id or (env.response_for.document_id if env.response_for else None),
        business_doc_type=env.business_doc_type,
        status_code=env.status_code,
        response_to=sub.original_id,
        dedup_key=sub.dedup_key,
        subject=env.subject[:500],
        priority=env.priority,
        raw=sub.raw,
        sha256=hashlib.sha256(sub.raw).hexdigest(),
        size=len(sub.raw),
        meta=env.metadata(),
        received_at=now,
    )
    session.add(message)
    session.flush()  # the unique dedup key is checked here, before anything else is written
    outbox: list[str] = []
    routed = []
    for rt in sub.routes:
        receive = rt.system.receive
        push = receive.mode == "push"
        delivery = Delivery(
            id=new_id(),
            message_id=message.id,
            recipient_org=rt.recipient,
            system_id=rt.system.id,
            mode=receive.mode,
            adapter=receive.adapter if push else "inbox",
            form=receive.format,
            state="pending" if push else "available",
            created_at=now,
            updated_at=now,
        )
        session.add(delivery)
        routed.append({"recipient": rt.recipient, "system": rt.system.id, "mode": receive.mode,
                       "delivery_id": delivery.id})
        if push:
            # marked dispatched now: the enqueue right after commit; the sweeper covers a miss
            session.add(Outbox(delivery_id=delivery.id, available_at=now, dispatched_at=now,
                               priority=env.priority))
            outbox.append(delivery.id)
    events = [
        audit.PendingEvent(
            "message.received",
            actor=sub.system.id,
            message_id=message.id,
            detail={
                "kind": env.kind.value,
                "form": env.form.value,
                "channel": sub.channel,
                "sender": env.sender,
                "document_id": message.document_id,
                "business_doc_type": env.business_doc_type,
                "status_code": env.status_code,
                "sha256": message.sha256,
                "size": message.size,
                "warnings": [w.as_dict() for w in env.warnings],
            },
        ),
        audit.PendingEvent("message.routed", actor="hub", message_id=message.id,
                           detail={"deliveries": routed}),
    ]
    if env.kind is Kind.STATUS and sub.original_id:
        session.add(StatusRecord(
            message_id=sub.original_id,
            status_message_id=message.id,
            status_code=env.status_code or "",
            from_org=message.sender_org,
            description=str(env.header.get("description", ""))[:4000],
            timestamp=str(env.header.get("timestamp", "")),
            recorded_at=now,
        ))
        events.append(audit.PendingEvent(
            "status.recorded", actor=sub.system.id, message_id=sub.original_id,
            detail={"status_code": env.status_code, "status_message_id": message.id}))
    audit.append(session, events)
    receipt = Receipt(
        id=message.id,
        kind=env.kind,
        document_id=message.document_id,
        status="accepted",
        recipients=[rt.recipient for rt in sub.routes],
    )
    return receipt, outbox
