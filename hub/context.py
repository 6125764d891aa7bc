"""The hub's parts, built once from Settings and passed down (no import-time singletons)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import redis
from dramatiq import Worker

from adapters.registry import AdapterRegistry
from core.errors import HubError
from core.settings import Settings
from hub.checkpointer import Checkpointer
from hub.deadlines import DeadlineKeeper, DeadlineScanner
from hub.delivery.dispatcher import Dispatcher
from hub.delivery.sweeper import Sweeper
from hub.delivery.worker import DeliveryWorker
from hub.inbox import Inbox
from hub.ingest.pipeline import Ingest
from hub.metrics import Metrics
from hub.outbound import build_egress
from hub.polling import InboundPoller, PollerThread, check_polled
from hub.refusals import RefusalLog
from hub.reload import Reloader
from hub.routing_config import RoutingConfig, RoutingState, load_config
from hub.store.db import Database
from hub.store.migrate import upgrade
from routing.directory import Directory, System
from routing.rules import RuleSet, configured_rules
from schemas.codec import CodecRegistry
from security.atrest import Sealer
from security.egress import Egress
from security.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter

log = logging.getLogger(__name__)


@dataclass
class HubContext:
    settings: Settings
    db: Database
    # the routing snapshot in force, swapped whole by a reload (hub/routing_config.py)
    routing: RoutingState
    codecs: CodecRegistry
    egress: Egress
    adapters: AdapterRegistry
    dispatcher: Dispatcher
    ingest: Ingest
    inbox: Inbox
    deliverer: DeliveryWorker
    metrics: Metrics
    # the door's state: rate-limit buckets and the summed audit of refusals (hub/api/guard.py)
    limiter: RateLimiter = field(default_factory=MemoryRateLimiter, repr=False)
    refusals: RefusalLog | None = field(default=None, repr=False)
    # protection at rest: seals what the writer stores, opens what deliveries and the inbox read
    sealer: Sealer = field(default_factory=Sealer, repr=False)
    _worker: Worker | None = field(default=None, repr=False)
    _sweeper: Sweeper | None = field(default=None, repr=False)
    _checkpointer: Checkpointer | None = field(default=None, repr=False)
    # NĐ 30/2020 deadlines: `deadlines.scan_once()` on demand, a scanner thread with workers
    deadlines: DeadlineKeeper | None = field(default=None, repr=False)
    _deadline_scanner: DeadlineScanner | None = field(default=None, repr=False)
    # reloads the directory on a change of its file, SIGHUP, the admin endpoint, or a
    # notice from another process (hub/reload.py)
    reloader: Reloader | None = field(default=None, repr=False)
    # inbound polling of systems that cannot push (hub/polling.py): `poller.poll(id)` on
    # demand, a thread with workers
    poller: InboundPoller | None = field(default=None, repr=False)
    _poller_thread: PollerThread | None = field(default=None, repr=False)

    @property
    def directory(self) -> Directory:
        """The directory of the current routing snapshot (the request's, when pinned)."""
        return self.routing.current().directory

    @property
    def rules(self) -> RuleSet:
        """The routing rules of the current routing snapshot."""
        return self.routing.current().rules

    @classmethod
    def build(
        cls,
        settings: Settings,
        directory: Directory | None = None,
        adapters: AdapterRegistry | None = None,
        migrate: bool = True,
    ) -> HubContext:
        """Wire every part, building and checking every adapter the directory uses.

        Raises HubError when the directory or the routing rules are missing or invalid
        (RulesError names the file and the rule), or when an adapter is
        missing, cannot be built, or cannot work with a push system's configuration (the
        message names the adapter and the system). A directory given in memory is not
        reloaded from the settings' file.
        """
        rules_file = settings.routing.rules_file
        config = (RoutingConfig(directory, rules=configured_rules(rules_file, directory))
                  if directory is not None
                  else load_config(settings.directory_file, rules_file=rules_file))
        directory = config.directory
        routing = RoutingState(config)
        sealer = Sealer.from_settings(settings.atrest)
        db = Database(settings.database_url)
        if migrate:
            upgrade(db.engine)
        metrics = Metrics(db)
        # refusals go to the audit chain through the ingest writer, built below
        egress = build_egress(settings, directory, metrics,
                              lambda events: ingest.writer.record(events))
        registry = adapters or AdapterRegistry(egress)
        try:
            registry.build(directory.systems())
            check_polled(directory, registry)
        except BaseException:
            if adapters is None:
                registry.close()
            egress.close()
            db.dispose()
            raise
        adapters = registry
        dispatcher = Dispatcher(settings, db)
        deliverer = DeliveryWorker(
            settings, db, routing, adapters,
            schedule=lambda ids, prio, delay: dispatcher.dispatch(ids, prio, delay),
        )
        dispatcher.bind(deliverer.run)
        codecs = CodecRegistry(settings)
        deliverer.metrics = metrics
        deliverer.sealer = sealer
        ingest = Ingest(settings, routing, db, codecs, dispatcher, metrics)
        ingest.writer.sealer = sealer
        inbox = Inbox(settings, db, sealer)
        ctx = cls(settings, db, routing, codecs, egress, adapters, dispatcher, ingest, inbox,
                  deliverer, metrics, sealer=sealer)
        ctx.reloader = Reloader(ctx)
        if settings.redis_url:
            ctx.limiter = RedisRateLimiter(redis.Redis.from_url(settings.redis_url),
                                           settings.broker_namespace)
        ctx.refusals = RefusalLog(ingest.writer.record, settings.rate_limits.audit_window_s)
        ctx.deadlines = DeadlineKeeper(db, settings.deadlines, metrics)
        ctx.poller = InboundPoller(settings.polling, db, routing, adapters, ingest,
                                   refuse=ctx._refuse_polled)
        return ctx

    def _refuse_polled(self, system: System, exc: HubError, where: str, sha256: str) -> None:
        """Audit an item the hub refused from a polled system (never raises)."""
        self.metrics.rejected.labels(exc.code, "poll").inc()
        if self.refusals is None:
            return
        try:
            self.refusals.refuse("poll", exc, actor=system.id, source="poll", where=where,
                                 sha256=sha256 or None, organizations=system.organizations)
        except HubError:
            log.exception("could not audit a refusal (%s)", exc.code)

    def start_worker(self, sweeper: bool = True) -> None:
        """Start delivery threads (and the sweeper and the deadline scanner) here."""
        if self._worker is None:
            self._worker = self.dispatcher.make_worker()
            self._worker.start()
        if sweeper and self._sweeper is None:
            self._sweeper = Sweeper(self.db, self.dispatcher.send, self.settings.delivery,
                                    self.metrics, broker_up=self.dispatcher.ping)
            self._sweeper.start()
        if (sweeper and self.settings.deadlines.enabled and self.deadlines is not None
                and self._deadline_scanner is None):
            # one scans at a time across processes (hub/deadlines.py)
            self._deadline_scanner = DeadlineScanner(self.deadlines)
            self._deadline_scanner.start()
        if (sweeper and self.settings.polling.enabled and self.poller is not None
                and self._poller_thread is None):
            # one polls a system at a time across processes (hub/polling.py)
            self._poller_thread = PollerThread(self.poller)
            self._poller_thread.start()

    def start_checkpointer(self) -> None:
        """Sign the audit chain's head periodically from this process (every process that
        appends runs one). Raises AuditKeyError when the signing key is unusable."""
        if self._checkpointer is None:
            self._checkpointer = Checkpointer.from_settings(self.db, self.settings)
            self._checkpointer.start()

    def stop_checkpointer(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None

    def start_reloader(self) -> None:
        """Watch the directory file and listen for other processes' reloads (production)."""
        if self.reloader is not None:
            self.reloader.start()

    def stop_worker(self) -> None:
        if self._poller_thread is not None:
            self._poller_thread.stop()
            self._poller_thread = None
        if self._deadline_scanner is not None:
            self._deadline_scanner.stop()
            self._deadline_scanner = None
        if self._sweeper is not None:
            self._sweeper.stop()
            self._sweeper = None
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        self.deliverer.close()

    def close(self) -> None:
        if self.reloader is not None:
            self.reloader.stop()
        self.stop_worker()
        if self.refusals is not None:
            self.refusals.close()
        self.ingest.close()
        self.stop_checkpointer()
        self.adapters.close()
        self.egress.close()
        self.dispatcher.close()
        self.db.dispose()

