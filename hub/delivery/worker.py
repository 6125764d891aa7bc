"""One delivery attempt: claim the delivery, hand it to its adapter, record what happened."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select, update

from adapters.base import OutboundDelivery
from adapters.registry import AdapterRegistry
from core.errors import HubError, PermanentError, ServiceUnavailable, TransientError
from core.hops import Hop
from core.links import LinkSigner
from core.model import Form
from core.settings import Settings
from hub.auditing import append_about
from hub.delivery.breaker import Breaker
from hub.delivery.payload import render
from hub.delivery.release import release_after
from hub.delivery.retry import RetryPolicy
from hub.metrics import Metrics
from hub.outage import Outage
from hub.routing_config import RoutingState
from hub.store.db import Database
from hub.store.models import Attempt, Delivery, DestinationHealth, Message, Outbox
from hub.store.raw import raw_of
from routing.directory import Directory
from security import audit
from security.atrest import Sealer

log = logging.getLogger(__name__)
WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Outcome:
    state: str  # delivered | retrying | dead | skipped
    retry_in_ms: int | None = None


class DeliveryWorker:
    """Runs single attempts; retries are scheduled through `schedule` with a delay."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        routing: RoutingState,
        adapters: AdapterRegistry,
        schedule: Callable[[list[str], int, int], None],
    ) -> None:
        self.settings = settings
        self.db = db
        self.links = LinkSigner.from_settings(settings.links)
        self.routing = routing
        self.adapters = adapters
        # the hub's default; a system's `receive.retry` in the directory overrides it
        self.policy = RetryPolicy.from_settings(settings.delivery)
        self.schedule = schedule
        self.metrics: Metrics | None = None
        self.sealer = Sealer()  # protection at rest: HubContext.build sets the configured one
        # per receiving system: stop hammering a dead one, probe it, resume
        self.breaker = Breaker(db, settings.delivery)
        # claims held by attempts running in this process, renewed by one thread
        self._held: set[str] = set()
        self._held_lock = threading.Lock()
        self._renewer: threading.Thread | None = None
        self._stop = threading.Event()
        self.database = Outage(
            log, "could not renew the leases of running attempts: the database is unavailable "
            "(%s); their deliveries may be taken again once the leases run out",
            "database reachable again; leases are renewed")

    def _count(self, adapter: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.deliveries.labels(adapter, outcome).inc()

    def claim(self, delivery_id: str, now: dt.datetime) -> bool:
        """Take the delivery for one attempt; False if it is finished or someone holds it."""
        lease = dt.timedelta(seconds=self.settings.delivery.lease_s)
        with self.db.transaction() as session:
            result = session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    or_(
                        and_(
                            Delivery.state.in_(("pending", "retrying")),
                            or_(Delivery.next_attempt_at.is_(None),
                                Delivery.next_attempt_at <= now),
                        ),
                        and_(Delivery.state == "delivering", Delivery.lease_until < now),
                    ),
                )
                .values(state="delivering", attempts=Delivery.attempts + 1,
                        lease_until=now + lease, updated_at=now)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                return True
            state = session.execute(
                select(Delivery.state).where(Delivery.id == delivery_id)
            ).scalar_one_or_none()
            if state in (None, "delivered", "dead", "available", "refused"):
                # finished (or never pushable): nothing more is owed to the broker
                session.execute(delete(Outbox).where(Outbox.delivery_id == delivery_id))
            return False

    def run(self, delivery_id: str) -> Outcome:
        """One attempt at one delivery. Raises only when the database is unavailable."""
        started = utcnow()
        if self.breaker.enabled:
            deferred = self._defer_if_open(delivery_id, started)
            if deferred is not None:
                return deferred
        if not self.claim(delivery_id, started):
            return Outcome("skipped")
        self._hold(delivery_id)
        try:
            return self._attempt(delivery_id, started)
        finally:
            self._release(delivery_id)

    def _attempt(self, delivery_id: str, started: dt.datetime) -> Outcome:
        with self.db.reading() as session:
            row = session.execute(
                select(Delivery, Message).join(Message, Delivery.message_id == Message.id)
                .where(Delivery.id == delivery_id)
            ).one()
            delivery, message = row
        # the message's priority follows the delivery into every retry: urgent stays urgent
        priority = message.priority
        # one routing snapshot for the whole attempt: the system's endpoint and its schedule
        config = self.routing.current()
        policy = self.policy_for(config.directory, delivery.system_id)
        try:
            outbound = self._outbound(delivery, message, config.directory)
            adapter = self.adapters.get(delivery.adapter)
            result = adapter.deliver(outbound)
        except TransientError as exc:
            if self.breaker.failed(delivery.system_id, utcnow(), exc.detail):
                log.warning("system %s: circuit opened after %s", delivery.system_id,
                            exc.detail[:200])
            return self._failed(delivery, started, exc, permanent=False, priority=priority,
                                policy=policy)
        except PermanentError as exc:
            # refused under a directory that was replaced meanwhile (the gateway already
            # checks against the new one): not the receiver's verdict, try again
            moved = self.routing.latest() is not config
            return self._failed(delivery, started, exc, permanent=not moved,
                                priority=priority, policy=policy)
        except HubError as exc:
            return self._failed(delivery, started, exc, permanent=False, priority=priority,
                                policy=policy)
        except Exception as exc:  # an adapter bug must not lose the delivery: retry it
            log.exception("adapter %s crashed on delivery %s", delivery.adapter, delivery_id)
            return self._failed(delivery, started, TransientError(f"adapter error: {exc!r}"),
                                permanent=False, priority=priority, policy=policy)
        outcome = self._succeeded(delivery, started, result.detail)
        if self.breaker.succeeded(delivery.system_id, utcnow()):
            log.info("system %s: circuit closed, its waiting deliveries resume",
                     delivery.system_id)
            self._resume(delivery.system_id, utcnow())
        return outcome

    def _defer_if_open(self, delivery_id: str, now: dt.datetime) -> Outcome | None:
        """While the system's breaker is open, move the delivery to the breaker's retry time
        without an attempt; None when it may go (or is not waiting: the claim decides)."""
        with self.db.reading() as session:
            row = session.execute(
                select(Delivery.system_id, Delivery.state, Message.priority,
                       DestinationHealth.state.label("breaker"))
                .join(Message, Delivery.message_id == Message.id)
                .outerjoin(DestinationHealth,
                           DestinationHealth.system_id == Delivery.system_id)
                .where(Delivery.id == delivery_id)).one_or_none()
        if row is None or row.state not in ("pending", "retrying") \
                or row.breaker in (None, "closed"):
            return None
        until = self.breaker.admit(row.system_id, now)
        if until is None:
            return None
        with self.db.transaction() as session:
            moved = session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.state.in_(("pending", "retrying")))
                .values(next_attempt_at=until, updated_at=now))
            if not moved.rowcount:  # type: ignore[attr-defined]
                return None
            session.execute(update(Outbox).where(Outbox.delivery_id == delivery_id)
                            .values(available_at=until, dispatched_at=now))
        delay_ms = max(0, int((until - now).total_seconds() * 1000))
        self._count(self._adapter_of(delivery_id), "deferred")
        self.schedule([delivery_id], row.priority, delay_ms)
        return Outcome("deferred", delay_ms)

    def _adapter_of(self, delivery_id: str) -> str:
        with self.db.reading() as session:
            return str(session.scalar(select(Delivery.adapter)
                                      .where(Delivery.id == delivery_id)) or "")

    def _resume(self, system_id: str, now: dt.datetime) -> None:
        """The breaker closed: the system's deliveries that waited for it go now."""
        with self.db.transaction() as session:
            rows = session.execute(
                select(Delivery.id, Message.priority)
                .join(Message, Delivery.message_id == Message.id)
                .where(Delivery.system_id == system_id,
                       Delivery.state.in_(("pending", "retrying")),
                       Delivery.next_attempt_at > now)).all()
            ids = [r.id for r in rows]
            if ids:
                session.execute(update(Delivery).where(Delivery.id.in_(ids))
                                .values(next_attempt_at=now, updated_at=now))
                session.execute(update(Outbox).where(Outbox.delivery_id.in_(ids))
                                .values(available_at=now, dispatched_at=now))
        for priority in sorted({r.priority for r in rows}, reverse=True):
            self.schedule([r.id for r in rows if r.priority == priority], priority, 0)

    def policy_for(self, directory: Directory, system_id: str) -> RetryPolicy:
        """The system's own retry schedule (`receive.retry`), else the hub's."""
        system = directory.system(system_id)
        if system is None or system.receive.retry is None:
            return self.policy
        return RetryPolicy.from_schedule(system.receive.retry)

    # -- the claim's heartbeat: a short lease, renewed while the attempt runs ----------------
    def _hold(self, delivery_id: str) -> None:
        with self._held_lock:
            self._held.add(delivery_id)
            if self._renewer is None:
                self._renewer = threading.Thread(target=self._renew_forever, args=(self._stop,),
                                                 daemon=True, name="lienthong-lease-renewer")
                self._renewer.start()

    def _release(self, delivery_id: str) -> None:
        with self._held_lock:
            self._held.discard(delivery_id)

    def _renew_forever(self, stop: threading.Event) -> None:
        interval = self.settings.delivery.lease_s / 3
        while not stop.wait(interval):
            # if a lease runs out, another worker may take the delivery: at-least-once
            try:
                self.renew_leases()
            except ServiceUnavailable as exc:
                self.database.failed(exc)
            except Exception:
                log.warning("could not renew the leases of running attempts", exc_info=True)
            else:
                self.database.answered()

    def renew_leases(self) -> int:
        """Extend the lease of every attempt running in this process; returns how many.

        Raises ServiceUnavailable when the database is down.
        """
        with self._held_lock:
            held = sorted(self._held)
        if not held:
            return 0
        now = utcnow()
        until = now + dt.timedelta(seconds=self.settings.delivery.lease_s)
        with self.db.transaction() as session:
            result = session.execute(
                update(Delivery)
                .where(Delivery.id.in_(held), Delivery.state == "delivering")
                .values(lease_until=until)
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def close(self) -> None:
        """Stop renewing leases (attempts still running lose their claim at its end)."""
        with self._held_lock:
            self._stop.set()
            self._stop, self._renewer = threading.Event(), None

    def _outbound(self, delivery: Delivery, message: Message,
                  directory: Directory) -> OutboundDelivery:
        system = directory.system(delivery.system_id)
        if system is None:
            raise PermanentError(f"system {delivery.system_id} is no longer in the directory")
        target = Form(delivery.form)
        payload = render(raw_of(self.sealer, message), Form(message.form), target)
        return OutboundDelivery(
            message_id=message.id,
            delivery_id=delivery.id,
            kind=message.kind,
            sender=message.sender_org,
            recipient=delivery.recipient_org,
            system_id=delivery.system_id,
            document_id=message.document_id,
            attempt=delivery.attempts,
            payload=payload,
            media_type=target.media_type,
            endpoint=system.receive,
            hops=(*(Hop.from_dict(h) for h in message.meta.get("hops", [])),
                  Hop.now(self.settings.hub_organ_id, message.id)),
            link=self.links.url(message.id, delivery.recipient_org)
            if self.links is not None and system.receive.email is not None else None,
        )

    def _succeeded(self, delivery: Delivery, started: dt.datetime, detail: str) -> Outcome:
        now = utcnow()
        with self.db.transaction() as session:
            session.execute(
                update(Delivery).where(Delivery.id == delivery.id)
                .values(state="delivered", finished_at=now, updated_at=now, lease_until=None,
                        last_error=None)
            )
            session.add(Attempt(delivery_id=delivery.id, number=delivery.attempts,
                                started_at=started, finished_at=now, outcome="ok",
                                detail=detail[:1000], worker=WORKER_NAME))
            session.execute(delete(Outbox).where(Outbox.delivery_id == delivery.id))
            append_about(session, delivery.message_id, [audit.PendingEvent(
                "delivery.succeeded", actor="hub", message_id=delivery.message_id,
                delivery_id=delivery.id,
                detail={"recipient": delivery.recipient_org, "system": delivery.system_id,
                        "attempt": delivery.attempts, "result": detail[:200],
                        "worker": WORKER_NAME})], recipients=[delivery.recipient_org])
            # what waited behind this one (an update behind its original) goes now
            released = [r for r in release_after(session, [delivery.id], now, dispatched=True)
                        if r.push]
        self._count(delivery.adapter, "delivered")
        for priority in sorted({r.priority for r in released}, reverse=True):
            self.schedule([r.delivery_id for r in released if r.priority == priority],
                          priority, 0)
        log.info("delivered %s to %s (attempt %d)", delivery.message_id,
                 delivery.recipient_org, delivery.attempts)
        return Outcome("delivered")

    def _failed(
        self, delivery: Delivery, started: dt.datetime, exc: HubError, *, permanent: bool,
        priority: int, policy: RetryPolicy | None = None,
    ) -> Outcome:
        now = utcnow()
        attempts = delivery.attempts
        policy = policy or self.policy
        retry = not permanent and policy.should_retry(attempts)
        delay_ms = policy.backoff_ms(attempts) if retry else None
        reason = exc.detail[:1000]
        events = [audit.PendingEvent(
            "delivery.failed", actor="hub", message_id=delivery.message_id,
            delivery_id=delivery.id,
            detail={"recipient": delivery.recipient_org, "attempt": attempts,
                    "reason": reason, "permanent": permanent, "retry_in_ms": delay_ms,
                    "worker": WORKER_NAME})]
        with self.db.transaction() as session:
            session.add(Attempt(delivery_id=delivery.id, number=attempts, started_at=started,
                                finished_at=now, outcome="permanent" if permanent else "transient",
                                detail=reason, worker=WORKER_NAME))
            if retry and delay_ms is not None:
                due = now + dt.timedelta(milliseconds=delay_ms)
                session.execute(
                    update(Delivery).where(Delivery.id == delivery.id)
                    .values(state="retrying", next_attempt_at=due, last_error=reason,
                            lease_until=None, updated_at=now)
                )
                session.execute(
                    update(Outbox).where(Outbox.delivery_id == delivery.id)
                    .values(available_at=due, dispatched_at=now, priority=priority)
                )
            else:
                session.execute(
                    update(Delivery).where(Delivery.id == delivery.id)
                    .values(state="dead", last_error=reason, lease_until=None,
                            finished_at=now, updated_at=now)
                )
                session.execute(delete(Outbox).where(Outbox.delivery_id == delivery.id))
                events.append(audit.PendingEvent(
                    "delivery.dead_lettered", actor="hub", message_id=delivery.message_id,
                    delivery_id=delivery.id,
                    detail={"recipient": delivery.recipient_org, "attempts": attempts,
                            "reason": reason, "worker": WORKER_NAME}))
            append_about(session, delivery.message_id, events,
                         recipients=[delivery.recipient_org])
        self._count(delivery.adapter, "retrying" if retry else "dead")
        if retry and delay_ms is not None:
            log.warning("delivery %s to %s failed (attempt %d), retry in %d ms: %s",
                        delivery.id, delivery.recipient_org, attempts, delay_ms, reason)
            self.schedule([delivery.id], priority, delay_ms)
            return Outcome("retrying", delay_ms)
        log.error("delivery %s to %s is a dead letter after %d attempt(s): %s",
                  delivery.id, delivery.recipient_org, attempts, reason)
        return Outcome("dead")
