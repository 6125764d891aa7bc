"""What was promised against what arrived: the deliveries each accepted document owes,
the copies the receivers accepted, and the duplicates among them with their cause."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select

from hub.store.db import Database
from hub.store.models import Attempt, Delivery, Outbox
from tests.faults.receivers import Copy
from tests.faults.senders import Answer, Doc


@dataclass(frozen=True)
class Owed:
    """One recipient of one accepted document: the copy it must receive."""

    doc: int
    document_id: str
    recipient: str
    message_id: str


def owed(docs: list[Doc], answers: dict[int, Answer]) -> list[Owed]:
    """Every recipient of every answered document, under the message id it was answered
    with (a duplicate's answer carries the first message's id, which is the one delivered)."""
    return [Owed(doc.number, doc.document_id, recipient, answers[doc.number].message_id)
            for doc in docs if doc.number in answers for recipient in doc.to]


def missing(expected: list[Owed], copies: list[Copy]) -> list[Owed]:
    arrived = {(c.message_id, c.recipient) for c in copies}
    return [o for o in expected if (o.message_id, o.recipient) not in arrived]


def drained_at(expected: list[Owed], copies: list[Copy]) -> float:
    """When the last owed delivery first arrived (a later duplicate does not count)."""
    first: dict[tuple[str, str], float] = {}
    for c in copies:
        key = (c.message_id, c.recipient)
        first[key] = min(c.at, first.get(key, c.at))
    return max(first[(o.message_id, o.recipient)] for o in expected)


def describe(items: list[Owed], db: Database, limit: int = 8) -> str:
    """The first few missing deliveries, each with its state in the hub's database."""
    if not items:
        return "none missing"
    states: dict[tuple[str, str], str] = {}
    try:
        with db.reading() as session:
            for row in session.execute(
                    select(Delivery.message_id, Delivery.recipient_org, Delivery.state,
                           Delivery.attempts, Delivery.last_error)
                    .where(Delivery.message_id.in_({o.message_id for o in items[:limit]}))):
                states[(row.message_id, row.recipient_org)] = (
                    f"{row.state}, {row.attempts} attempt(s), last error {row.last_error!r}")
    except Exception as exc:  # noqa: BLE001 - a diagnosis must not hide the failure
        states = {}
        note = f" (database not readable: {exc!r})"
    else:
        note = ""
    lines = [f"document {o.doc} ({o.document_id}) to {o.recipient}, message {o.message_id}: "
             f"{states.get((o.message_id, o.recipient), 'no delivery row')}"
             for o in items[:limit]]
    more = f"; and {len(items) - limit} more" if len(items) > limit else ""
    return f"{len(items)} missing{note}: " + "; ".join(lines) + more


def unsettled(db: Database) -> dict[str, int]:
    """Deliveries not yet delivered, by state, and outbox rows left: empty when settled."""
    with db.reading() as session:
        states = {state: int(count) for state, count in session.execute(
            select(Delivery.state, func.count()).where(Delivery.state != "delivered")
            .group_by(Delivery.state))}
        outbox = session.scalar(select(func.count()).select_from(Outbox)) or 0
    if outbox:
        states["outbox rows"] = outbox
    return states


@dataclass(frozen=True)
class Duplicate:
    """A delivery a receiver accepted more than once."""

    delivery_id: str
    message_id: str
    recipient: str
    attempts: tuple[int, ...]  # of the copies, as their X-Lienthong-Attempt said
    recorded_ok: tuple[int, ...]  # attempts the database recorded as delivered
    unrecorded: tuple[int, ...]  # copies' attempts with no outcome recorded at all


def duplicates(copies: list[Copy], db: Database) -> tuple[list[Duplicate], list[str]]:
    """The duplicates among the copies, and what is wrong with any of them.

    A copy beyond the first is excused only when the attempt that made it never recorded
    an outcome: its worker was killed, or the database went away, between the receiver's
    200 and the hub's record of it; the lease ran out and another attempt delivered again.
    Every copy of a delivery must carry the same hub message id and recipient.
    """
    by_delivery: dict[str, list[Copy]] = defaultdict(list)
    for c in copies:
        by_delivery[c.delivery_id].append(c)
    problems: list[str] = []
    for delivery_id, group in by_delivery.items():
        ids = {(c.message_id, c.recipient) for c in group}
        if len(ids) != 1:
            problems.append(f"delivery {delivery_id} arrived as different messages: {ids}")
    repeated = {d: g for d, g in by_delivery.items() if len(g) > 1}
    recorded: dict[str, dict[int, str]] = defaultdict(dict)
    if repeated:
        with db.reading() as session:
            for row in session.execute(select(Attempt.delivery_id, Attempt.number,
                                              Attempt.outcome)
                                       .where(Attempt.delivery_id.in_(repeated))):
                recorded[row.delivery_id][row.number] = row.outcome
    found = []
    for delivery_id, group in sorted(repeated.items()):
        outcomes = recorded[delivery_id]
        attempts = tuple(sorted(c.attempt for c in group))
        ok = tuple(sorted(n for n, o in outcomes.items() if o == "ok"))
        unrecorded = tuple(n for n in attempts if n not in outcomes)
        dup = Duplicate(delivery_id, group[0].message_id, group[0].recipient, attempts, ok,
                        unrecorded)
        found.append(dup)
        if len(ok) != 1 or ok[0] not in attempts:
            problems.append(f"delivery {delivery_id}: copies of attempts {attempts}, but the "
                            f"database records attempts {ok} as delivered")
        elif len(unrecorded) != len(attempts) - 1 or len(set(attempts)) != len(attempts):
            problems.append(
                f"delivery {delivery_id} arrived {len(group)} times (attempts {attempts}) "
                f"though only attempts {unrecorded} went unrecorded: recorded outcomes "
                f"{dict(sorted(outcomes.items()))}")
    return found, problems


def delivery_rows(db: Database, message_ids: set[str]) -> dict[str, int]:
    """How many delivery rows each of these messages has."""
    counts: dict[str, int] = {}
    with db.reading() as session:
        ids = sorted(message_ids)
        for start in range(0, len(ids), 1000):
            for row in session.execute(
                    select(Delivery.message_id, func.count()).where(
                        Delivery.message_id.in_(ids[start:start + 1000]))
                    .group_by(Delivery.message_id)):
                counts[row[0]] = int(row[1])
    return counts
