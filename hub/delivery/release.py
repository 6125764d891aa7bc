"""Release: a delivery held behind an earlier one to the same recipient goes once that one is
finished (hub/ingest/lifecycle.py says which waits for which).

A held delivery is `waiting`, with no outbox row: nothing is owed to the broker and no
attempt is spent while it waits. When its predecessor is delivered (or a pulling recipient
refused it), in the same transaction, a push delivery becomes `pending` with an outbox row
and a pull delivery `available` in its system's inbox. A dead predecessor holds what waits
behind it until the dead letter is replayed and delivered.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, aliased

from core.tables import table_of
from hub.auditing import append_about
from hub.store.db import Database
from hub.store.models import Delivery, Message, Outbox
from security import audit

log = logging.getLogger(__name__)

# a predecessor in one of these states no longer holds what waits behind it
FINISHED = ("delivered", "refused")


@dataclass(frozen=True)
class Released:
    """A delivery released; a push one is enqueued in its message's lane."""

    delivery_id: str
    priority: int
    push: bool


def release_after(session: Session, finished: Sequence[str], now: dt.datetime, *,
                  dispatched: bool) -> list[Released]:
    """Release, in the caller's transaction, what waits behind the deliveries `finished`.

    `dispatched` says the caller enqueues the released push deliveries right after its
    commit (their outbox rows are marked sent, as a fresh message's are); otherwise the
    rows are left for the sweeper to send. Returns what was released. Raises what the
    database raises.
    """
    if not finished:
        return []
    rows = session.execute(
        select(Delivery.id, Delivery.message_id, Delivery.mode, Delivery.recipient_org,
               Delivery.after_delivery_id, Message.priority)
        .join(Message, Delivery.message_id == Message.id)
        .where(Delivery.after_delivery_id.in_(list(finished)), Delivery.state == "waiting")
        .order_by(Delivery.created_at, Delivery.id)
    ).all()
    if not rows:
        return []
    push = [r for r in rows if r.mode == "push"]
    pull = [r for r in rows if r.mode != "push"]
    for state, group in (("pending", push), ("available", pull)):
        if group:
            session.execute(
                update(Delivery).where(Delivery.id.in_([r.id for r in group]),
                                       Delivery.state == "waiting")
                .values(state=state, updated_at=now))
    if push:
        session.execute(insert(table_of(Outbox)), [
            {"delivery_id": r.id, "available_at": now,
             "dispatched_at": now if dispatched else None, "priority": r.priority}
            for r in push])
    for r in rows:
        append_about(session, r.message_id, [audit.PendingEvent(
            "delivery.released", actor="hub", message_id=r.message_id, delivery_id=r.id,
            detail={"recipient": r.recipient_org, "after": r.after_delivery_id})],
            recipients=[r.recipient_org])
    return [Released(r.id, r.priority, r.mode == "push") for r in rows]


def release_stranded(db: Database, batch: int = 500) -> int:
    """Release what waits behind a delivery already finished: the writer read the
    predecessor unfinished, and it finished before the writer's commit. Push deliveries
    get outbox rows the sweeper sends. Returns how many were released. Raises
    ServiceUnavailable when the database is down."""
    before = aliased(Delivery)
    now = dt.datetime.now(dt.UTC)
    with db.transaction() as session:
        finished = session.execute(
            select(before.id).join(Delivery, Delivery.after_delivery_id == before.id)
            .where(Delivery.state == "waiting", before.state.in_(FINISHED))
            .distinct().limit(batch)
        ).scalars().all()
        released = release_after(session, finished, now, dispatched=False)
    if released:
        log.warning("released %d deliveries held behind finished ones (%d to push)",
                    len(released), sum(r.push for r in released))
    return len(released)
