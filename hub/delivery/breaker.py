"""A circuit breaker per receiving system, shared by every worker through the database.

closed     deliveries go; each transient failure in a row is counted, a success resets it
open       after `delivery.breaker_failures` transient failures in a row: the system's
           deliveries wait until `retry_at` without spending an attempt
half_open  `retry_at` passed: one delivery goes as the probe (the state changes in one
           conditional UPDATE, so one worker wins); its success closes the breaker, its
           transient failure opens it for another `breaker_cooldown_s`; a probe that never
           reports (its worker died) is replaced after `breaker_cooldown_s`
A refusal (PermanentError) says the receiver is up: it neither counts nor opens.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from core.settings import Delivery as DeliverySettings
from hub.store.db import Database
from hub.store.models import DestinationHealth

STATES = ("closed", "open", "half_open")


@dataclass(frozen=True)
class Health:
    """A system's breaker as operators see it."""

    system_id: str
    state: str
    failures: int
    opened_at: dt.datetime | None
    retry_at: dt.datetime | None
    last_error: str

    def as_dict(self) -> dict[str, object]:
        return {"state": self.state, "failures": self.failures,
                "opened_at": self.opened_at.isoformat() if self.opened_at else None,
                "retry_at": self.retry_at.isoformat() if self.retry_at else None,
                "last_error": self.last_error}


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite returns naive datetimes; everything stored is UTC
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


class Breaker:
    """Raises only what the database raises (ServiceUnavailable when it is down)."""

    def __init__(self, db: Database, settings: DeliverySettings) -> None:
        self.db = db
        self.threshold = settings.breaker_failures
        self.cooldown = dt.timedelta(seconds=settings.breaker_cooldown_s)

    @property
    def enabled(self) -> bool:
        return self.threshold > 0

    def admit(self, system_id: str, now: dt.datetime) -> dt.datetime | None:
        """None when a delivery to the system may go now (closed, or this caller is the
        probe); otherwise the time its deliveries wait for."""
        if not self.enabled:
            return None
        with self.db.transaction() as session:
            row = session.get(DestinationHealth, system_id)
            if row is None or row.state == "closed":
                return None
            retry_at = _aware(row.retry_at)
            if retry_at is not None and retry_at > now:
                return retry_at
            won = session.execute(
                update(DestinationHealth)
                .where(DestinationHealth.system_id == system_id,
                       DestinationHealth.state != "closed",
                       or_(DestinationHealth.retry_at.is_(None),
                           DestinationHealth.retry_at <= now))
                .values(state="half_open", retry_at=now + self.cooldown, updated_at=now)
                .execution_options(synchronize_session=False))
            if won.rowcount:  # type: ignore[attr-defined]
                return None
            return now + self.cooldown

    def succeeded(self, system_id: str, now: dt.datetime) -> bool:
        """The receiver took a delivery: the breaker closes. True when it was not closed
        (the deliveries that waited for it may go now)."""
        if not self.enabled:
            return False
        with self.db.reading() as session:  # the common case, a healthy system: no write
            row = session.execute(
                select(DestinationHealth.state, DestinationHealth.failures)
                .where(DestinationHealth.system_id == system_id)).one_or_none()
        if row is None or (row.state == "closed" and row.failures == 0):
            return False
        with self.db.transaction() as session:
            reopened = session.execute(
                update(DestinationHealth)
                .where(DestinationHealth.system_id == system_id,
                       DestinationHealth.state != "closed")
                .values(state="closed", failures=0, opened_at=None, retry_at=None,
                        updated_at=now))
            session.execute(
                update(DestinationHealth)
                .where(DestinationHealth.system_id == system_id,
                       DestinationHealth.failures > 0)
                .values(failures=0, updated_at=now))
            return bool(reopened.rowcount)  # type: ignore[attr-defined]

    def failed(self, system_id: str, now: dt.datetime, reason: str) -> bool:
        """A transient failure; True when it opened (or re-opened) the breaker."""
        if not self.enabled:
            return False
        for _ in range(2):  # the first failure of a system inserts its row; a race retries
            try:
                with self.db.transaction() as session:
                    row = session.get(DestinationHealth, system_id, with_for_update=True)
                    if row is None:
                        session.execute(insert(DestinationHealth).values(
                            system_id=system_id, state="closed", failures=0, last_error="",
                            updated_at=now))
                        row = session.get(DestinationHealth, system_id, with_for_update=True)
                        assert row is not None
                    row.failures += 1
                    row.last_error = reason[:500]
                    row.updated_at = now
                    opens = row.state == "half_open" or (
                        row.state == "closed" and row.failures >= self.threshold)
                    if opens:
                        if row.state == "closed":
                            row.opened_at = now
                        row.state = "open"
                        row.retry_at = now + self.cooldown
                    return opens
            except IntegrityError:
                continue
        return False

    def health(self) -> dict[str, Health]:
        """Every system that has had a failure, by id (a system absent is closed)."""
        with self.db.reading() as session:
            rows = session.scalars(select(DestinationHealth)).all()
            return {r.system_id: Health(r.system_id, r.state, r.failures, _aware(r.opened_at),
                                        _aware(r.retry_at), r.last_error) for r in rows}


def closed(system_id: str) -> Health:
    return Health(system_id, "closed", 0, None, None, "")


__all__ = ["Breaker", "Health", "STATES", "closed"]
