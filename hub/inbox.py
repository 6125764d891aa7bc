"""The pull inbox: what waits for a pulling system, fetching it, and its transport receipt."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select, update

from core.errors import Conflict, NotFound
from core.model import Form
from core.settings import Settings
from hub.auditing import append_about
from hub.delivery.payload import render
from hub.delivery.release import release_after
from hub.store.db import Database
from hub.store.models import Delivery, Message
from hub.store.raw import raw_of
from routing.directory import System
from security import audit
from security.atrest import Sealer


@dataclass(frozen=True)
class InboxItem:
    id: str
    kind: str
    document_id: str | None
    sender: str
    recipients: list[str]
    subject: str
    received_at: str

    def as_dict(self) -> dict[str, object]:
        return self.__dict__.copy()


class Inbox:
    def __init__(self, settings: Settings, db: Database, sealer: Sealer | None = None) -> None:
        self.settings = settings
        self.db = db
        self.sealer = sealer or Sealer()

    def pending(self, system: System, limit: int = 100) -> list[InboxItem]:
        """Messages waiting for `system`, oldest first."""
        with self.db.reading() as session:
            rows = session.execute(
                select(Message, Delivery.recipient_org)
                .join(Delivery, Delivery.message_id == Message.id)
                .where(Delivery.system_id == system.id, Delivery.state == "available")
                .order_by(Message.received_at, Message.id)
                .limit(limit * 4)
            ).all()
        items: dict[str, InboxItem] = {}
        for message, recipient in rows:
            item = items.get(message.id)
            if item is None:
                if len(items) >= limit:
                    continue
                item = items[message.id] = InboxItem(
                    id=message.id, kind=message.kind, document_id=message.document_id,
                    sender=message.sender_org, recipients=[], subject=message.subject,
                    received_at=message.received_at.isoformat())
            item.recipients.append(recipient)
        return list(items.values())

    def fetch(self, system: System, message_id: str, form: Form | None) -> tuple[bytes, Form]:
        """The message in the form the caller asks for (default: its system's form).

        Raises NotFound when the message is not addressed to `system` or still waits behind
        an earlier one (an update behind its original: docs/lifecycle.md), AtRestKeyUnknown
        or AtRestTampered when its stored bytes cannot be opened (an operator's problem: 500).
        """
        with self.db.reading() as session:
            row = session.execute(
                select(Message)
                .join(Delivery, Delivery.message_id == Message.id)
                .where(Message.id == message_id, Delivery.system_id == system.id,
                       Delivery.state != "waiting")
                .limit(1)
            ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no message {message_id} for system {system.id}",
                           code="inbox_item_not_found")
        target = form or Form(system.receive.format)
        return render(raw_of(self.sealer, row), Form(row.form), target), target

    def ack(
        self, system: System, message_id: str, result: Literal["done", "fail"], reason: str = ""
    ) -> str:
        """Record the transport receipt; returns the new delivery state.

        Raises NotFound (not this system's message, or not yet in its inbox) or Conflict
        (already acknowledged differently).
        """
        new_state = "delivered" if result == "done" else "refused"
        now = dt.datetime.now(dt.UTC)
        with self.db.transaction() as session:
            deliveries = session.execute(
                select(Delivery).where(Delivery.message_id == message_id,
                                       Delivery.system_id == system.id,
                                       Delivery.state != "waiting")
            ).scalars().all()
            if not deliveries:
                raise NotFound(f"no message {message_id} for system {system.id}",
                               code="inbox_item_not_found")
            waiting = [d for d in deliveries if d.state == "available"]
            if not waiting:
                states = {d.state for d in deliveries}
                if states == {new_state}:
                    return new_state  # the same receipt again: nothing changes
                raise Conflict(f"message {message_id} was already acknowledged ({sorted(states)})",
                               code="already_acknowledged")
            session.execute(
                update(Delivery).where(Delivery.id.in_([d.id for d in waiting]))
                .values(state=new_state, finished_at=now, updated_at=now,
                        last_error=reason[:1000] if result == "fail" else None)
            )
            append_about(session, message_id, [audit.PendingEvent(
                "message.acknowledged", actor=system.id, message_id=message_id,
                detail={"result": result, "reason": reason[:500],
                        "recipients": [d.recipient_org for d in waiting]})],
                recipients=[d.recipient_org for d in waiting])
            # what waited behind these (an update behind its original) goes now; a push
            # delivery among them is sent by the sweeper
            release_after(session, [d.id for d in waiting], now, dispatched=False)
        return new_state
