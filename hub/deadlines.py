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

One process scans at a time (a PostgreSQL session advisory lock; SQLite has one process):
every worker process runs a scanner thread, and the API process in embedded mode. A scan
works in batches of deliveries, one transaction each, with its audit events appended last,
so writers wait for the audit chain's head at most one batch. The clock is injected,
so a test moves it instead of waiting for the end of a working day.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.errors import ServiceUnavailable
from core.model import Kind
from core.settings import Deadlines as DeadlineSettings
from core.tables import utcnow
from core.workcalendar import WorkCalendar
from hub.metrics import Metrics
from hub.outage import Outage
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
        with _scanner_lock(self.db) as held:
            if not held:
                return None
            with self.db.transaction() as session:
                # statuses carry no deadlines of their own
                session.execute(
                    update(Delivery)
                    .where(Delivery.deadlines_open.is_(True),
                           Delivery.message_id.in_(select(Message.id).where(
                               Message.kind != Kind.DOCUMENT.value)))
                    .values(deadlines_open=False).execution_options(synchronize_session=False))
            after = ""
            while True:
                # one transaction per batch: the audit chain's head, locked by the batch's
                # events, is held for one batch, not for the whole scan
                with self.db.transaction() as session:
                    rows = session.execute(
                        select(Delivery).where(Delivery.deadlines_open.is_(True),
                                               Delivery.id > after)
                        .order_by(Delivery.id).limit(BATCH)
                    ).scalars().all()
                    if rows:
                        self._batch(session, rows, now, scan)
                if len(rows) < BATCH:
                    break
                after = rows[-1].id
        if self.metrics is not None:
            for _, kind in scan.flagged:
                self.metrics.overdue_flags.labels(kind).inc()
        if scan.flagged:
            log.warning("deadlines: %d recipients flagged late (%s)", len(scan.flagged),
                        scan.summary())
        return scan

    def _batch(self, session: Session, rows: Sequence[Delivery], now: dt.datetime,
               scan: Scan) -> None:
        scan.looked_at += len(rows)
        message_ids = {d.message_id for d in rows}
        replies = _replies(session, message_ids)
        recalled = _recalled(session, message_ids)
        starting = [d.message_id for d in rows
                    if d.receipt_due_at is None and reached_at(d) is not None]
        due_days = _due_days(session, starting) if starting else {}
        changes: list[dict[str, Any]] = []
        due: list[tuple[Delivery, rules.Duty]] = []
        for d in rows:
            key = (d.message_id, d.recipient_org)
            change, late = self._one(d, replies.get(key, []), due_days, now,
                                     recalled=key in recalled)
            if change:
                changes.append({"id": d.id, **change})
                if change.get("deadlines_open") is False:
                    scan.closed += 1
                if "receipt_due_at" in change:
                    scan.started += 1
            due.extend((d, duty) for duty in late)
        if changes:  # by primary key, in batches of the same columns
            session.execute(update(Delivery), changes)
        if due:
            self._flag(session, due, now, scan)

    def _one(self, d: Delivery, replies: list[rules.Reply],
             due_days: dict[str, dt.date | None], now: dt.datetime, *,
             recalled: bool = False) -> tuple[dict[str, Any], list[rules.Duty]]:
        """What changes in one delivery's record, and which of its duties to flag now."""
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
        receipt = rules.duty(rules.RECEIPT, receipt_due, replies)
        answer = rules.duty(rules.ANSWER, answer_due, replies) if answer_due else None
        if receipt.met_at is not None and d.receipt_confirmed_at is None:
            changes["receipt_confirmed_at"] = receipt.met_at
        if answer is not None and answer.met_at is not None and d.answered_at is None:
            changes.update(answered_at=answer.met_at, answered_by=answer.met_by)
        if recalled or (reached is None and d.state == "refused"):
            # the sender recalled it (13), or the receiver refused it: nothing more is due
            changes["deadlines_open"] = False
            return changes, []
        if receipt_due is not None and receipt.settled and (answer is None or answer.settled):
            changes["deadlines_open"] = False
        late = [duty for duty, flagged_at in ((receipt, d.receipt_flagged_at),
                                               (answer, d.answer_flagged_at))
                if duty is not None and flagged_at is None and duty.due_at is not None
                and (duty.overdue(now) or duty.met_late)]
        return changes, late

    def _flag(self, session: Session, due: list[tuple[Delivery, rules.Duty]],
              now: dt.datetime, scan: Scan) -> None:
        """Raise the flags: set each flag column where it is still unset, and append one
        audit event for each flag this update set (never one for a flag set before)."""
        raised: set[tuple[str, str]] = set()
        for kind, column in ((rules.RECEIPT, Delivery.receipt_flagged_at),
                             (rules.ANSWER, Delivery.answer_flagged_at)):
            ids = [d.id for d, duty in due if duty.kind == kind]
            if ids:
                raised |= {(i, kind) for i in _set_unset(session, column, ids, now)}
        if not raised:
            return
        about = {r.id: r for r in session.execute(
            select(Message.id, Message.sender_org, Message.document_id, Message.sha256)
            .where(Message.id.in_({d.message_id for d, _ in due})))}
        events = []
        for d, duty in due:
            if (d.id, duty.kind) not in raised or duty.due_at is None:
                continue
            detail: dict[str, Any] = {
                "kind": duty.kind, "recipient": d.recipient_org, "system": d.system_id,
                "due_at": duty.due_at.isoformat(),
                "late_by_s": int(((duty.met_at or now) - duty.due_at).total_seconds())}
            if duty.met_at is not None:
                detail.update(met_at=duty.met_at.isoformat(), met_by=duty.met_by)
            message = about.get(d.message_id)
            events.append(audit.PendingEvent(
                EVENT, actor="hub", message_id=d.message_id, delivery_id=d.id, detail=detail,
                organizations=(message.sender_org, d.recipient_org) if message
                else (d.recipient_org,),
                document_id=message.document_id if message else None,
                sha256=message.sha256 if message else None))
            scan.flagged.append((d.id, duty.kind))
        audit.append(session, events)  # last in the transaction: the head stays locked


def _set_unset(session: Session, column: Any, ids: list[str],
               now: dt.datetime) -> list[str]:
    """Set `column` to `now` on the deliveries `ids` where it is unset; return those set."""
    unset = update(Delivery).where(Delivery.id.in_(ids), column.is_(None)).values(
        {column.key: now}).execution_options(synchronize_session=False)
    if session.get_bind().dialect.update_returning:
        return list(session.scalars(unset.returning(Delivery.id)))
    taken = []  # an SQLite before 3.35: one by one
    for one in ids:
        result = session.execute(unset.where(Delivery.id == one))
        if getattr(result, "rowcount", 0) == 1:
            taken.append(one)
    return taken


@contextlib.contextmanager
def _scanner_lock(db: Database) -> Iterator[bool]:
    """Be the one scanner for the whole scan: a PostgreSQL session advisory lock, held on a
    connection of its own (released by its end if the process dies). SQLite has one process,
    and each batch's transaction holds the write lock."""
    if not db.is_postgres:
        yield True
        return
    try:
        with db.engine.connect() as conn:
            held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                     {"k": ADVISORY_LOCK}).scalar())
            conn.commit()
            try:
                yield held
            finally:
                if held:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK})
                    conn.commit()
    except OperationalError as exc:
        raise ServiceUnavailable("the database is unavailable",
                                 code="database_unavailable") from exc


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
        self.database = Outage(log, "deadline scans wait: the database is unavailable (%s)",
                               "deadline scans resume: the database answers again")

    def run(self) -> None:
        interval = self.keeper.settings.scan_interval_s
        while not self._stop_event.wait(interval):
            try:
                self.keeper.scan_once()
            except (ServiceUnavailable, OperationalError) as exc:
                self.database.failed(exc)
            except Exception:
                log.warning("deadline scan failed; trying again in %.0f s", interval,
                            exc_info=True)
            else:
                self.database.answered()

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=10)
