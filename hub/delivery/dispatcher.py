"""The dispatcher: enqueues deliveries on the broker, in two lanes (urgent and normal)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import dramatiq
from dramatiq import Broker, Worker
from dramatiq.middleware import Retries
from sqlalchemy import update

from core.errors import HubError, ServiceUnavailable
from core.settings import Settings
from hub.delivery.broker import make_broker
from hub.outage import Outage
from hub.store.db import Database
from hub.store.models import Outbox

log = logging.getLogger(__name__)

QUEUE_NORMAL = "deliveries"
QUEUE_URGENT = "deliveries_urgent"
# dramatiq's actor priority: lower is taken first among the messages a worker holds
URGENT_ACTOR_PRIORITY, NORMAL_ACTOR_PRIORITY = 0, 10


class Dispatcher:
    """Owns the broker and the delivery actors; knows nothing of how a delivery is made."""

    def __init__(self, settings: Settings, db: Database, broker: Broker | None = None) -> None:
        """Raises HubError when `broker` would retry failed messages itself."""
        self.settings = settings
        self.db = db
        self.broker = broker or make_broker(settings)
        if any(isinstance(m, Retries) for m in self.broker.middleware):
            # a second retry loop would add attempts the database does not count
            raise HubError("the broker has dramatiq's Retries middleware; retries belong to "
                           "the hub (build the broker with make_broker)", code="broker_retries")
        self._actors: dict[str, dramatiq.Actor] = {}  # type: ignore[type-arg]
        # the broker as dispatch sees it: one line per change, not one per delivery
        self.broker_outage = Outage(
            log, "broker unreachable (%s); deliveries wait in the outbox and the sweeper "
            "sends them when it answers",
            "broker reachable again; the sweeper sends what waited in the outbox")
        # the database as the delivery actors see it: its loss said once, not per delivery
        self.database = Outage(
            log, "database unavailable (%s): deliveries taken from the broker meanwhile get "
            "no outcome; the sweeper sends them again once it answers, after the "
            f"{settings.delivery.dispatch_lease_s:.0f} s dispatch lease",
            "database reachable again; deliveries are recorded")

    def bind(self, handler: Callable[[str], object]) -> None:
        """Declare the delivery actors on this broker, both calling `handler(delivery_id)`."""
        time_limit = int((self.settings.delivery.timeout_s * 2 + 60) * 1000)

        dispatch_lease_s = self.settings.delivery.dispatch_lease_s

        def deliver(delivery_id: str) -> None:
            try:
                handler(delivery_id)
            except ServiceUnavailable as exc:
                # The database is down: said once for the outage, and the message is simply
                # acknowledged (raising would make dramatiq log a traceback per delivery).
                # The outbox row, still marked dispatched, brings the delivery back.
                self.database.failed(exc)
                return
            except Exception as exc:
                # No outcome was recorded (the time limit, say). The broker will not
                # try again (no Retries middleware); the outbox row, still marked
                # dispatched, is enqueued again by the sweeper once its lease has passed.
                log.warning("delivery %s: no outcome recorded (%r); the sweeper enqueues it "
                            "again after the %.0f s dispatch lease", delivery_id, exc,
                            dispatch_lease_s)
                raise
            self.database.answered()

        for queue in (QUEUE_NORMAL, QUEUE_URGENT):
            self._actors[queue] = dramatiq.actor(
                broker=self.broker,
                actor_name=f"deliver_{queue}",
                queue_name=queue,
                time_limit=time_limit,
                # a worker prefetches from both queues into one local queue; its threads
                # take the lowest priority first, so urgent messages it holds pass the
                # routine ones it prefetched earlier (otherwise they queue by arrival)
                priority=URGENT_ACTOR_PRIORITY if queue == QUEUE_URGENT else NORMAL_ACTOR_PRIORITY,
            )(deliver)

    def dispatch(self, delivery_ids: list[str], priority: int = 0, delay_ms: int = 0) -> None:
        """Enqueue deliveries; on a broker failure leave them to the sweeper, never raise.

        The caller has already committed the deliveries and their outbox rows.
        """
        self.send(delivery_ids, priority, delay_ms)

    def send(self, delivery_ids: list[str], priority: int = 0, delay_ms: int = 0) -> bool:
        """dispatch, saying whether the broker took them all: False when it refused, and
        then the rest of the batch is not tried (each would wait for the same dead
        connection) and all of it is left to the sweeper. Never raises."""
        actor = self._actors[QUEUE_URGENT if priority > 0 else QUEUE_NORMAL]
        for n, delivery_id in enumerate(delivery_ids):
            try:
                actor.send_with_options(args=(delivery_id,), delay=delay_ms or None)
            except Exception as exc:  # the broker is down: the outbox keeps the delivery
                self.broker_outage.failed(exc)
                self._forget_dispatch(delivery_ids[n:])
                return False
        if delivery_ids:
            self.broker_outage.answered()
        return True

    def _forget_dispatch(self, delivery_ids: list[str]) -> None:
        try:
            with self.db.transaction() as session:
                session.execute(
                    update(Outbox).where(Outbox.delivery_id.in_(delivery_ids))
                    .values(dispatched_at=None)
                )
        except Exception:
            log.warning("could not mark %d outbox rows for the sweeper", len(delivery_ids),
                        exc_info=True)

    def make_worker(self) -> Worker:
        worker = Worker(self.broker, worker_threads=self.settings.delivery.worker_threads,
                        worker_timeout=100)
        # prefetching many messages per thread is what makes a worker fast
        worker.queue_prefetch = self.settings.delivery.queue_prefetch
        return worker

    def ping(self) -> bool:
        client = getattr(self.broker, "client", None)
        if client is None:
            return True
        try:
            up = bool(client.ping())
        except Exception as exc:
            self.broker_outage.failed(exc)
            return False
        if up:
            self.broker_outage.answered()
        else:
            self.broker_outage.failed(ConnectionError("no answer to PING"))
        return up

    def close(self) -> None:
        self.broker.close()

