"""Read models: a message with its deliveries, attempts, status history and trace."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.errors import NotFound
from core.settings import Settings
from hub.store.db import Database
from hub.store.models import Delivery, Message, StatusRecord
from routing.directory import System
from security.audit_tables import AuditEvent

TERMINAL_OK = {"delivered"}
TERMINAL_BAD = {"dead", "refused"}


def message_state(states: list[str]) -> str:
    if not states:
        return "accepted"
    if all(s in TERMINAL_OK for s in states):
        return "delivered"
    if any(s in TERMINAL_BAD for s in states):
        return "failed" if all(s in TERMINAL_BAD for s in states) else "partially_failed"
    if any(s in TERMINAL_OK for s in states):
        return "partially_delivered"
    return "in_progress"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def message_view(db: Database, settings: Settings, system: System | None,
                 message_id: str) -> dict[str, Any]:
    """The whole record of a message, for its sender, its recipients or an operator (None).

    Raises NotFound when there is no such message or the caller may not see it.
    """
    with db.reading() as session:
        message = session.execute(
            select(Message).where(Message.id == message_id)
            .options(selectinload(Message.deliveries).selectinload(Delivery.attempt_log))
        ).scalar_one_or_none()
        visible = message is not None and (
            system is None
            or message.sender_system == system.id
            or any(d.system_id == system.id for d in message.deliveries)
        )
        if message is None or not visible:
            raise NotFound(f"no message {message_id}", code="message_not_found")
        statuses = session.execute(
            select(StatusRecord).where(StatusRecord.message_id == message_id)
            .order_by(StatusRecord.id)
        ).scalars().all()
        events = session.execute(
            select(AuditEvent).where(AuditEvent.message_id == message_id)
            .order_by(AuditEvent.seq)
        ).scalars().all()
        deliveries: list[dict[str, Any]] = [
            {
                "id": d.id,
                "recipient": d.recipient_org,
                "system": d.system_id,
                "mode": d.mode,
                "adapter": d.adapter,
                "form": d.form,
                "state": d.state,
                "attempts": [
                    {"number": a.number, "started_at": _iso(a.started_at),
                     "finished_at": _iso(a.finished_at), "outcome": a.outcome,
                     "detail": a.detail}
                    for a in d.attempt_log
                ],
                "last_error": d.last_error,
                "next_attempt_at": _iso(d.next_attempt_at),
                "finished_at": _iso(d.finished_at),
                "dead_letter": d.state == "dead",
            }
            for d in message.deliveries
        ]
        header = message.meta.get("header", {})
        package_trace = [
            {"organId": h.get("organId"), "timestamp": h.get("timestamp"), "source": "package"}
            for h in header.get("traceHeaderList", {}).get("traceHeaders", [])
        ]
        hub_trace = [
            {"organId": settings.hub_organ_id, "timestamp": e.at, "event": e.event,
             "actor": e.actor, "source": "hub"}
            for e in events
        ]
        return {
            "id": message.id,
            "kind": message.kind,
            "form": message.form,
            "channel": message.channel,
            "document_id": message.document_id,
            "business_doc_type": message.business_doc_type,
            "status_code": message.status_code,
            "response_to": message.response_to,
            "sender": message.sender_org,
            "sender_system": message.sender_system,
            "subject": message.subject,
            "sha256": message.sha256,
            "size": message.size,
            "received_at": _iso(message.received_at),
            "state": message_state([d["state"] for d in deliveries]),
            "deliveries": deliveries,
            "status_history": [
                {"status_code": s.status_code, "from": s.from_org, "description": s.description,
                 "timestamp": s.timestamp, "recorded_at": _iso(s.recorded_at),
                 "status_message_id": s.status_message_id}
                for s in statuses
            ],
            "warnings": message.meta.get("warnings", []),
            "signature": message.meta.get("signature"),
            "trace": package_trace + hub_trace,
        }
