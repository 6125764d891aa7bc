"""Dead letters: deliveries that gave up, listing them, and sending them again.

The one path for REST (`GET /api/v1/deadletters`, `POST /api/v1/deadletters/replay`) and the
CLI (`lienthong dlq list`, `lienthong dlq replay`): a replay makes the delivery pending with
its attempts from zero, enqueues it in its message's priority lane, and appends
`delivery.replayed` naming the person (or `cli`) who asked, in one transaction per batch.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound, PermanentError
from core.settings import Settings
from hub.auditing import append_about
from hub.store.db import Database
from hub.store.models import Delivery, Message, Outbox
from security import audit

if TYPE_CHECKING:
    from hub.context import HubContext

MAX_PAGE = 1000
# a replay of everything matching goes through in batches of this many deliveries
REPLAY_BATCH = 200

REPLAYED, NOT_FOUND, NOT_DEAD = "replayed", "not_found", "not_a_dead_letter"


@dataclass(frozen=True)
class DeadLetterFilter:
    """Every condition is optional; those given must all hold. `since`: dead since then."""

    system: str | None = None
    recipient: str | None = None
    message: str | None = None
    since: dt.datetime | None = None


@dataclass(frozen=True)
class DeadLetter:
    id: str
    message_id: str
    document_id: str | None
    sender: str
    recipient: str
    system: str
    attempts: int
    last_error: str | None
    finished_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class DeadLetterPage:
    items: list[DeadLetter] = field(default_factory=list)
    next_cursor: str | None = None


def _bad_cursor() -> PermanentError:
    return PermanentError("the cursor is not one this hub handed out", code="invalid_cursor",
                          detail_vi="Con trỏ phân trang không hợp lệ")


def _encode(finished_at: dt.datetime | None, delivery_id: str) -> str:
    raw = json.dumps({"at": finished_at.isoformat() if finished_at else None,
                      "id": delivery_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


def _decode(cursor: str) -> tuple[dt.datetime | None, str]:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at, delivery_id = value["at"], value["id"]
        if not isinstance(delivery_id, str) or not (at is None or isinstance(at, str)):
            raise ValueError("cursor fields")
        return (dt.datetime.fromisoformat(at) if at else None), delivery_id
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def _matching(f: DeadLetterFilter) -> list[Any]:
    where: list[Any] = [Delivery.state == "dead"]
    if f.system:
        where.append(Delivery.system_id == f.system)
    if f.recipient:
        where.append(Delivery.recipient_org == f.recipient)
    if f.message:
        where.append(Delivery.message_id == f.message)
    if f.since is not None:
        where.append(Delivery.finished_at >= _utc(f.since))
    return where


def search(session: Session, f: DeadLetterFilter, *, limit: int = 100,
           cursor: str | None = None) -> DeadLetterPage:
    """One page of dead letters matching `f`, the most recent first.

    Raises PermanentError (invalid_cursor) for a cursor this function did not make.
    """
    limit = max(1, min(limit, MAX_PAGE))
    query = (select(Delivery, Message.document_id, Message.sender_org)
             .join(Message, Message.id == Delivery.message_id)
             .where(*_matching(f)))
    if cursor:
        at, after_id = _decode(cursor)
        if at is None:
            query = query.where(Delivery.finished_at.is_(None), Delivery.id < after_id)
        else:
            query = query.where(or_(Delivery.finished_at < at,
                                    and_(Delivery.finished_at == at, Delivery.id < after_id),
                                    Delivery.finished_at.is_(None)))
    query = query.order_by(Delivery.finished_at.desc().nulls_last(), Delivery.id.desc())
    rows = session.execute(query.limit(limit + 1)).all()
    items = [DeadLetter(
        id=d.id, message_id=d.message_id, document_id=document_id, sender=sender,
        recipient=d.recipient_org, system=d.system_id, attempts=d.attempts,
        last_error=d.last_error,
        finished_at=d.finished_at.isoformat() if d.finished_at else None)
        for d, document_id, sender in rows[:limit]]
    more = len(rows) > limit
    last = rows[limit - 1][0] if more else None
    return DeadLetterPage(items, _encode(last.finished_at, last.id) if last else None)


def dead_letters(settings: Settings, limit: int = 500,
                 f: DeadLetterFilter | None = None) -> list[dict[str, Any]]:
    """The most recent dead letters, for the CLI (opens and closes its own database)."""
    db = Database(settings.database_url)
    try:
        with db.reading() as session:
            return [d.as_dict() for d in search(session, f or DeadLetterFilter(),
                                                limit=limit).items]
    finally:
        db.dispose()


def matching_ids(db: Database, f: DeadLetterFilter) -> list[str]:
    """The ids of every dead letter matching `f`, oldest first."""
    with db.reading() as session:
        return list(session.execute(
            select(Delivery.id).where(*_matching(f))
            .order_by(Delivery.finished_at, Delivery.id)).scalars())


def replay_many(ctx: HubContext, ids: Sequence[str], actor: str) -> dict[str, str]:
    """Replay each dead letter among `ids`; answers per id `replayed`, `not_found` or
    `not_a_dead_letter`. A delivery two callers replay at once is replayed once.

    Raises ServiceUnavailable when the database is down (batches already committed stay
    replayed and enqueued).
    """
    results: dict[str, str] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), REPLAY_BATCH):
        chunk = unique[start:start + REPLAY_BATCH]
        lanes = _replay_batch(ctx, chunk, actor, results)
        for priority, delivery_ids in sorted(lanes.items(), reverse=True):
            ctx.dispatcher.dispatch(delivery_ids, priority)
    return results


def replay_matching(ctx: HubContext, f: DeadLetterFilter, actor: str) -> dict[str, str]:
    """Replay every dead letter matching `f` (see replay_many)."""
    return replay_many(ctx, matching_ids(ctx.db, f), actor)


def _replay_batch(ctx: HubContext, ids: Iterable[str], actor: str,
                  results: dict[str, str]) -> dict[int, list[str]]:
    now = dt.datetime.now(dt.UTC)
    lanes: dict[int, list[str]] = defaultdict(list)
    with ctx.db.transaction() as session:
        rows = {d.id: (d, priority) for d, priority in session.execute(
            select(Delivery, Message.priority).join(Message, Message.id == Delivery.message_id)
            .where(Delivery.id.in_(list(ids)))).all()}
        outbox: list[Outbox] = []
        by_message: dict[str, list[audit.PendingEvent]] = defaultdict(list)
        recipients: dict[str, list[str]] = defaultdict(list)
        for delivery_id in ids:
            found = rows.get(delivery_id)
            if found is None:
                results[delivery_id] = NOT_FOUND
                continue
            delivery, priority = found
            # conditional: of two replays racing, one wins and the other sees it is not dead
            taken = session.execute(
                update(Delivery).where(Delivery.id == delivery_id, Delivery.state == "dead")
                .values(state="pending", attempts=0, next_attempt_at=None, finished_at=None,
                        lease_until=None, updated_at=now)
            ).rowcount  # type: ignore[attr-defined]
            if not taken:
                results[delivery_id] = NOT_DEAD
                continue
            outbox.append(Outbox(delivery_id=delivery_id, available_at=now, dispatched_at=now,
                                 priority=priority))
            by_message[delivery.message_id].append(audit.PendingEvent(
                "delivery.replayed", actor=actor, message_id=delivery.message_id,
                delivery_id=delivery_id,
                detail={"recipient": delivery.recipient_org, "system": delivery.system_id,
                        "attempts_before": delivery.attempts}))
            recipients[delivery.message_id].append(delivery.recipient_org)
            lanes[priority].append(delivery_id)
            results[delivery_id] = REPLAYED
        if outbox:  # a dead letter has no outbox row, unless someone marked it dead by hand
            session.execute(delete(Outbox).where(
                Outbox.delivery_id.in_([o.delivery_id for o in outbox])))
            session.add_all(outbox)
        for message_id, events in by_message.items():
            append_about(session, message_id, events, recipients=recipients[message_id])
    return lanes


def replay(ctx: HubContext, delivery_id: str, actor: str) -> None:
    """Make one dead letter pending again and enqueue it, in its message's priority lane.

    Raises NotFound (no such delivery) or Conflict (it is not a dead letter).
    """
    outcome = replay_many(ctx, [delivery_id], actor)[delivery_id]
    if outcome == NOT_FOUND:
        raise NotFound(f"no delivery {delivery_id}", code="delivery_not_found")
    if outcome == NOT_DEAD:
        raise Conflict(f"delivery {delivery_id} is not a dead letter",
                       code="not_a_dead_letter")
