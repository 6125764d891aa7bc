"""The deadlines of NĐ 30/2020 for one recipient of one document (pure rules).

Two duties start when a document reaches a recipient's system (a push: when the receiver
took it; a pull: when it was put in the recipient's inbox, which the system is expected to
poll):

- **receipt**: confirm it the same working day (core/workcalendar.py: `same_day_due`).
  Confirmed by any status 01-06 from that recipient about the document (a later status
  implies the earlier ones), or by an answering document;
- **answer**, only for a document with a DueDate: answer by the end of that day (a day off
  moves it to the end of the next working day). Answered by status 06 (completed) or 02
  (rejected, the document is refused with a reason) from that recipient, or by a document
  from that recipient whose ResponseFor names the document. Statuses 03-05 say the work
  goes on: they confirm receipt but are no answer.

The hub flags a duty that is due and not met (hub/deadlines.py); a duty met after its due
time stays recorded as met late.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from core.workcalendar import WorkCalendar
from schemas.dates import read_date

RECEIPT = "receipt"
ANSWER = "answer"
KINDS = (RECEIPT, ANSWER)
RECEIPT_CODES = frozenset({"01", "02", "03", "04", "05", "06"})
ANSWER_CODES = frozenset({"02", "06"})


@dataclass(frozen=True)
class Reply:
    """Something a recipient sent back about a document, and when the hub recorded it: a
    status (its code), or an answering document (`status_code` None)."""

    at: dt.datetime
    status_code: str | None = None

    @property
    def how(self) -> str:
        return f"status {self.status_code}" if self.status_code else "document"


@dataclass(frozen=True)
class Duty:
    """One duty of one recipient: when it is due (None: not yet running), and when and how
    it was met (None: not yet)."""

    kind: str
    due_at: dt.datetime | None
    met_at: dt.datetime | None = None
    met_by: str | None = None

    def overdue(self, now: dt.datetime) -> bool:
        """Due, not met, and its time has passed."""
        return self.due_at is not None and self.met_at is None and now >= self.due_at

    @property
    def met_late(self) -> bool:
        return (self.due_at is not None and self.met_at is not None
                and self.met_at > self.due_at)

    @property
    def settled(self) -> bool:
        """Nothing more can happen to it: met."""
        return self.met_at is not None


def due_date(text: object) -> dt.date | None:
    """A document's DueDate as a day, in any form the hub accepts (yyyy/MM/dd, dd/MM/yyyy,
    or a producer's ISO form, whose time of day is not used); None when there is none or it
    names no real day."""
    if not isinstance(text, str) or not text.strip():
        return None
    reading = read_date(text.strip(), timestamp=False)
    if reading.verdict not in ("standard", "producer"):
        return None
    return dt.datetime.strptime(reading.read_as, "%Y/%m/%d").date()


def first_reply(kind: str, replies: Iterable[Reply]) -> Reply | None:
    """The earliest reply that meets a duty of `kind` (RECEIPT or ANSWER), or None."""
    codes = RECEIPT_CODES if kind == RECEIPT else ANSWER_CODES
    fitting = [r for r in replies if r.status_code is None or r.status_code in codes]
    return min(fitting, key=lambda r: r.at, default=None)


def duty(kind: str, due_at: dt.datetime | None, replies: Iterable[Reply]) -> Duty:
    """A duty due at `due_at`, met by the earliest fitting reply if there is one."""
    first = first_reply(kind, replies)
    return Duty(kind, due_at, first.at if first else None, first.how if first else None)


def receipt(calendar: WorkCalendar, reached_at: dt.datetime | None,
            replies: Iterable[Reply]) -> Duty:
    """The receipt duty of a recipient the document reached at `reached_at` (None: not yet).

    Raises ValueError when the calendar has no working day within a year.
    """
    due = calendar.same_day_due(reached_at) if reached_at is not None else None
    return duty(RECEIPT, due, replies)


def answer(calendar: WorkCalendar, reached_at: dt.datetime | None, due_day: dt.date | None,
           replies: Iterable[Reply]) -> Duty | None:
    """The answer duty, or None for a document without a (readable) DueDate.

    Raises ValueError when the calendar has no working day within a year.
    """
    if due_day is None:
        return None
    due = calendar.day_due(due_day) if reached_at is not None else None
    return duty(ANSWER, due, replies)
