"""The deadline scanner: keeps each delivery's NĐ 30/2020 duties and flags late recipients.

Every scan looks at the deliveries whose deadlines are open (`deliveries.deadlines_open`):
it starts the duties of a document that has reached its recipient (routing/deadlines.py,
in the working calendar of `settings.deadlines`), records when a status or an answering
document met them, and flags a duty that is due and unmet, or that was met late without a
flag (the scanner was not running at the time). A flag is raised once: its column is set by
a conditional update, and only the update that set it appends the `delivery.overdue` audit
event and counts it in `lienthong_overdue_flags_total`. A delivery closes once its duties
are met (or it is a status, its receiver refused it, or its sender recalled the document
with a status 13 to that recipient), so a scan reads only the deliveries still waiting for
something.

One process scans at a time (a PostgreSQL advisory lock; SQLite's write lock): every worker
process runs a scanner thread, and the API process in embedded mode. The clock is injected,
so a test moves it instead of waiting for the end of a working day.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from core.model import Kind
from core.settings import Deadlines as DeadlineSettings
from core.tables import utcnow
from core.workcalendar import WorkCalendar
from hub.auditing import append_about
from hub.metrics import Metrics
from hub.store.db import Database
from hub.store.models import Delivery, Message, StatusRecord
from routing import deadlines as rules
from security import audit

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
# the scanner's PostgreSQL advisory lock ("ltdl"); the checkpointer and migrations use others
ADVISORY_LOCK = 0x6C74646C
BATCH = 500
EVENT = "delivery.overdue"


def reached_at(delivery: Delivery) -> dt.datetime | None:
    """When the document reached the recipient's system: a push when the receiver took it,
    a pull when it was put in the inbox (the system is expected to poll); None before."""
    if delivery.mode == "pull":
        return delivery.created_at if delivery.state in ("available", "delivered") else None
    return delivery.finished_at if delivery.state == "delivered" else None


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite returns what it stored without its zone; every moment the hub stores is UTC
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else _utc(moment)


@dataclass
class Scan:
    """What one scan did."""

    looked_at: int = 0
    started: int = 0
    flagged: list[tuple[str, str]] = field(default_factory=list)  # (delivery id, kind)
    closed: int = 0

    def summary(self) -> str:
        kinds = Counter(kind for _, kind in self.flagged)
        return ", ".join(f"{kind}={kinds[kind]}" for kind in rules.KINDS if kinds[kind])


class DeadlineKeeper:
    """Scans on demand (`scan_once`); `DeadlineScanner` runs it periodically."""

    def __init__(self, db: Database, settings: DeadlineSettings, metrics: Metrics | None = None,
                 clock: Clock = utcnow) -> None:
        self.db = db
        self.settings = settings
        self.calendar: WorkCalendar = settings.calendar()
        self.metrics = metrics
        self.clock = clock

    def scan_once(self, now: dt.datetime | None = None) -> Scan | None:
        """One scan at `now` (default: the clock). Returns what it did, or None when another
        process is scanning. Raises ServiceUnavailable when the database is down."""
        now = _utc(now or self.clock()).astimezone(dt.UTC)
        scan = Scan()
        with self.db.transaction() as session:
            if not _lock(session):
                return None
            # statuses carry no deadlines of their own
            session.execute(
                update(Delivery)
                .where(Delivery.deadlines_open.is_(True),
                       Delivery.message_id.in_(select(Message.id).where(
                           Message.kind != Kind.DOCUMENT.value)))
                .values(deadlines_open=False).execution_options(synchronize_session=False))
            after = ""
            while True:
                rows = session.execute(
                    select(Delivery).where(Delivery.deadlines_open.is_(True),
                                           Delivery.id > after)
                    .order_by(Delivery.id).limit(BATCH)
                ).scalars().all()
                if not rows:
                    break
                self._batch(session, rows, now, scan)
                after = rows[-1].id
        if self.metrics is not None:
            for _, kind in scan.flagged:
                self.metrics.overdue_flags.labels(kind).inc()
        if scan.flagged:
            log.warning("deadlines: %d recipients flagged late (%s)", len(scan.flagged),
                        scan.summary())
        return scan

    def _batch(self, session: Session, rows: Iterable[Delivery], now: dt.datetime,
               scan: Scan) -> None:
        rows = list(rows)
        scan.looked_at += len(rows)
        message_ids = {d.message_id for d in rows}
        replies = _replies(session, message_ids)
        recalled = _recalled(session, message_ids)
        starting = [d.message_id for d in rows
                    if d.receipt_due_at is None and reached_at(d) is not None]
        due_days = _due_days(session, starting) if starting else {}
        for d in rows:
            key = (d.message_id, d.recipient_org)
            self._one(session, d, replies.get(key, []), due_days, now, scan,
                      recalled=key in recalled)

    def _one(self, session: Session, d: Delivery, replies: list[rules.Reply],
             due_days: dict[str, dt.date | None], now: dt.datetime, scan: Scan, *,
             recalled: bool = False) -> None:
        changes: dict[str, Any] = {}
        reached = _aware(reached_at(d))
        receipt_due, answer_due = _aware(d.receipt_due_at), _aware(d.answer_due_at)
        if receipt_due is None and reached is not None:
            # stored in UTC, as every moment the hub stores (SQLite keeps no zone)
            receipt_due = self.calendar.same_day_due(reached).astimezone(dt.UTC)
            day = due_days.get(d.message_id)
            answer_due = (self.calendar.day_due(day).astimezone(dt.UTC) if day is not None
                          else None)
            changes.update(receipt_due_at=receipt_due, answer_due_at=answer_due)
            scan.started += 1
        receipt = rules.duty(rules.RECEIPT, receipt_due, replies)
        answer = rules.duty(rules.ANSWER, answer_due, replies) if answer_due else None
        if receipt.met_at is not None and d.receipt_confirmed_at is None:
            changes["receipt_confirmed_at"] = receipt.met_at
        if answer is not None and answer.met_at is not None and d.answered_at is None:
            changes.update(answered_at=answer.met_at, answered_by=answer.met_by)
        if recalled or (reached is None and d.state == "refused"):
            # the sender recalled it (13), or the receiver refused it: nothing more is due
            changes["deadlines_open"] = False
        elif receipt_due is not None and receipt.settled and (answer is None or answer.settled):
            changes["deadlines_open"] = False
        if changes:
            session.execute(update(Delivery).where(Delivery.id == d.id).values(**changes)
                            .execution_options(synchronize_session=False))
        if changes.get("deadlines_open") is False:
            scan.closed += 1
        if recalled:
            return
        for duty, flagged_at in ((receipt, d.receipt_flagged_at),
                                 (answer, d.answer_flagged_at)):
            if duty is None or flagged_at is not None or duty.due_at is None:
                continue
            if duty.overdue(now) or duty.met_late:
                self._flag(session, d, duty, duty.due_at, now, scan)

    def _flag(self, session: Session, d: Delivery, duty: rules.Duty, due_at: dt.datetime,
              now: dt.datetime, scan: Scan) -> None:
        column = Delivery.receipt_flagged_at if duty.kind == rules.RECEIPT \
            else Delivery.answer_flagged_at
        took = session.execute(
            update(Delivery).where(Delivery.id == d.id, column.is_(None))
            .values({column.key: now}).execution_options(synchronize_session=False))
        if getattr(took, "rowcount", 0) != 1:
            return  # another scan raised it
        detail: dict[str, Any] = {
            "kind": duty.kind, "recipient": d.recipient_org, "system": d.system_id,
            "due_at": due_at.isoformat(),
            "late_by_s": int(((duty.met_at or now) - due_at).total_seconds())}
        if duty.met_at is not None:
            detail.update(met_at=duty.met_at.isoformat(), met_by=duty.met_by)
        append_about(session, d.message_id, [audit.PendingEvent(
            EVENT, actor="hub", message_id=d.message_id, delivery_id=d.id, detail=detail)],
            recipients=[d.recipient_org])
        scan.flagged.append((d.id, duty.kind))


def _lock(session: Session) -> bool:
    """Become the one scanner until the transaction ends; False if another process scans."""
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: the transaction holds the write lock already
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                {"k": ADVISORY_LOCK}).scalar())


def _replies(session: Session, message_ids: set[str]
             ) -> dict[tuple[str, str], list[rules.Reply]]:
    """Statuses and answering documents about these messages, by (message, organisation)."""
    found: dict[tuple[str, str], list[rules.Reply]] = defaultdict(list)
    for r in session.execute(
            select(StatusRecord.message_id, StatusRecord.from_org, StatusRecord.status_code,
                   StatusRecord.recorded_at)
            .where(StatusRecord.message_id.in_(message_ids))):
        found[(r.message_id, r.from_org)].append(
            rules.Reply(_utc(r.recorded_at), r.status_code))
    for answering, sender, at in session.execute(
            select(Message.response_to, Message.sender_org, Message.received_at)
            .where(Message.kind == Kind.DOCUMENT.value, Message.response_to.in_(message_ids))):
        found[(str(answering), sender)].append(rules.Reply(_utc(at)))
    return found


def _recalled(session: Session, message_ids: set[str]) -> set[tuple[str, str]]:
    """(message, recipient) pairs whose document the sender recalled (status 13 to it)."""
    return {(r.message_id, r.recipient_org) for r in session.execute(
        select(StatusRecord.message_id, Delivery.recipient_org)
        .join(Delivery, Delivery.message_id == StatusRecord.status_message_id)
        .where(StatusRecord.message_id.in_(message_ids), StatusRecord.status_code == "13"))}


def _due_days(session: Session, message_ids: Iterable[str]) -> dict[str, dt.date | None]:
    """Each message's DueDate, read from its stored header."""
    return {r.id: rules.due_date(r.meta.get("header", {}).get("dueDate"))
            for r in session.execute(select(Message.id, Message.meta)
                                     .where(Message.id.in_(set(message_ids))))}


class DeadlineScanner(threading.Thread):
    """Runs `keeper.scan_once` every `scan_interval_s` until stopped."""

    def __init__(self, keeper: DeadlineKeeper) -> None:
        super().__init__(name="lienthong-deadlines", daemon=True)
        self.keeper = keeper
        self._stop_event = threading.Event()

    def run(self) -> None:
        interval = self.keeper.settings.scan_interval_s
        while not self._stop_event.wait(interval):
            try:
                self.keeper.scan_once()
            except Exception:
                log.warning("deadline scan failed; trying again in %.0f s", interval,
                            exc_info=True)

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=10)
