"""Dead letters: deliveries that gave up, and sending one again."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from core.errors import Conflict, NotFound
from core.settings import Settings
from hub.auditing import append_about
from hub.store.db import Database
from hub.store.models import Delivery, Message, Outbox
from security import audit

if TYPE_CHECKING:
    from hub.context import HubContext


def dead_letters(settings: Settings, limit: int = 500) -> list[dict[str, Any]]:
    db = Database(settings.database_url)
    try:
        with db.reading() as session:
            rows = session.execute(
                select(Delivery).where(Delivery.state == "dead")
                .order_by(Delivery.finished_at.desc()).limit(limit)
            ).scalars().all()
            return [
                {"id": d.id, "message_id": d.message_id, "recipient": d.recipient_org,
                 "system": d.system_id, "attempts": d.attempts, "last_error": d.last_error,
                 "finished_at": d.finished_at.isoformat() if d.finished_at else None}
                for d in rows
            ]
    finally:
        db.dispose()


def replay(ctx: HubContext, delivery_id: str, actor: str) -> None:
    """Make a dead letter pending again and enqueue it, in its message's priority lane.

    Raises NotFound (no such delivery) or Conflict (it is not a dead letter).
    """
    now = dt.datetime.now(dt.UTC)
    with ctx.db.transaction() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            raise NotFound(f"no delivery {delivery_id}")
        if delivery.state != "dead":
            raise Conflict(f"delivery {delivery_id} is {delivery.state}, not a dead letter")
        session.execute(
            update(Delivery).where(Delivery.id == delivery_id)
            .values(state="pending", attempts=0, next_attempt_at=None, finished_at=None,
                    updated_at=now)
        )
        priority = session.execute(
            select(Message.priority).where(Message.id == delivery.message_id)).scalar_one()
        session.add(Outbox(delivery_id=delivery_id, available_at=now, dispatched_at=now,
                           priority=priority))
        append_about(session, delivery.message_id, [audit.PendingEvent(
            "delivery.replayed", actor=actor, message_id=delivery.message_id,
            delivery_id=delivery_id, detail={"recipient": delivery.recipient_org})],
            recipients=[delivery.recipient_org])
    ctx.dispatcher.dispatch([delivery_id], priority)
