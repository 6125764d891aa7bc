"""Inbound polling: fetch what waits at a polled system and feed it into the ingest pipeline.

A system whose `receive.poll_interval_s` is set, and whose adapter can poll (adapters/base.py
`Poller`), is polled that often: each item listed is fetched, submitted as if the system had
sent it (channel `poll`), then acknowledged at the system: `done` once the hub has stored it
(or it was a duplicate of something stored), `fail` with the reason when the hub refuses it
(the refusal is audited as `message.rejected`, as at the REST door). Nothing is acknowledged
before the store commits, so a hub dying midway loses nothing: the item is listed again and
its second coming is a duplicate, acknowledged `done`.

A transient failure (the system or the hub's database down) ends the system's round without
acknowledging anything; the next round tries again. One process polls a system at a time
(a PostgreSQL session advisory lock per system; SQLite has one process, and a lock per system
in it): every worker process runs a poller thread, and the API process in embedded mode.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from adapters.base import Inbound, Poller
from adapters.registry import AdapterRegistry
from core.errors import AdapterMisconfigured, HubError, PermanentError, TransientError
from core.model import Kind
from core.settings import Polling
from hub.ingest.pipeline import Ingest
from hub.metrics import Metrics
from hub.routing_config import RoutingState
from hub.store.db import Database
from routing.directory import Directory, System

log = logging.getLogger(__name__)

# the poller's PostgreSQL advisory lock class ("ltpl"); the system's CRC-32 is the other key
ADVISORY_LOCK = 0x6C74706C
CHANNEL = "poll"
DONE, FAIL = "done", "fail"

# audits a refused item: (system, the refusal, the item's reference, the package's SHA-256)
Refuse = Callable[[System, HubError, str, str], None]


@dataclass
class Round:
    """What one poll of one system did."""

    system_id: str
    listed: int = 0
    stored: list[str] = field(default_factory=list)  # the hub's message ids
    duplicates: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (item ref, code)
    # why the round ended early (the system or the hub was unavailable), else ""
    interrupted: str = ""
    skipped: bool = False  # another process was polling the system


def polled_systems(directory: Directory) -> list[System]:
    """The systems the hub polls: those with `receive.poll_interval_s`."""
    return [s for s in directory.systems() if s.receive.poll_interval_s is not None]


def check_polled(directory: Directory, adapters: AdapterRegistry) -> None:
    """Raises AdapterMisconfigured naming the system when a polled system's adapter cannot
    poll (or it receives by pull, so it has no adapter)."""
    for system in polled_systems(directory):
        if system.receive.mode != "push":
            raise AdapterMisconfigured(
                f"system {system.id}: receive.poll_interval_s is set but receive.mode is "
                "pull; the hub polls a system through its adapter (mode push)")
        adapter = adapters.get(system.receive.adapter)
        if not isinstance(adapter, Poller):
            raise AdapterMisconfigured(
                f"system {system.id}: receive.poll_interval_s is set but adapter "
                f"{system.receive.adapter!r} cannot poll")


class InboundPoller:
    """Polls every polled system when its turn comes (`poll_due`), or one on demand."""

    def __init__(self, settings: Polling, db: Database, routing: RoutingState,
                 adapters: AdapterRegistry, ingest: Ingest, refuse: Refuse | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.db = db
        self.routing = routing
        self.adapters = adapters
        self.ingest = ingest
        self.refuse = refuse
        self.clock = clock
        self.metrics = metrics or ingest.metrics
        self._next: dict[str, float] = {}
        self._local_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def poll_due(self) -> list[Round]:
        """Poll each system whose interval has passed since its last round."""
        now = self.clock()
        rounds = []
        for system in polled_systems(self.routing.current().directory):
            if self._next.get(system.id, 0.0) > now:
                continue
            self._next[system.id] = now + (system.receive.poll_interval_s or 0.0)
            try:
                rounds.append(self.poll(system.id))
            except Exception:
                log.exception("polling system %s failed", system.id)
        return rounds

    def poll(self, system_id: str) -> Round:
        """One round at one system: list, fetch, submit, acknowledge each item.

        Raises PermanentError when the system is not a polled one of the directory.
        A listing the system refuses, and transient failures, end the round (said in
        `Round.interrupted`), never raise.
        """
        system = self.routing.current().directory.system(system_id)
        if system is None or system.receive.poll_interval_s is None:
            raise PermanentError(f"system {system_id} is not polled",
                                 code="system_not_polled")
        adapter = self.adapters.get(system.receive.adapter)
        if not isinstance(adapter, Poller):
            raise AdapterMisconfigured(f"system {system_id}: adapter "
                                       f"{system.receive.adapter!r} cannot poll")
        result = Round(system_id)
        with self._system_lock(system_id) as held:
            if not held:
                result.skipped = True
                return result
            try:
                items = adapter.poll(system.id, system.receive)[: self.settings.batch]
            except HubError as exc:
                # transient (down) or not (a refused signature): either way, no item is
                # touched, and the next round asks again
                result.interrupted = f"listing: {exc.detail}"
                level = logging.WARNING if isinstance(exc, TransientError) else logging.ERROR
                log.log(level, "system %s could not be polled: %s", system.id, exc.detail)
                self._count(result)
                return result
            result.listed = len(items)
            for item in items:
                stop = self._one(adapter, system, item, result)
                if stop:
                    result.interrupted = stop
                    log.warning("polling system %s stopped at %s: %s", system.id, item.ref,
                                stop)
                    break
        self._count(result)
        return result

    def _count(self, result: Round) -> None:
        counter = self.metrics.polled
        for outcome, n in (("stored", len(result.stored)),
                           ("duplicate", len(result.duplicates)),
                           ("refused", len(result.refused)),
                           ("interrupted", 1 if result.interrupted else 0)):
            if n:
                counter.labels(result.system_id, outcome).inc(n)

    def _one(self, adapter: Poller, system: System, item: Inbound, result: Round) -> str:
        """Take one item; returns why the round must stop, or "" to go on."""
        receive = system.receive
        try:
            fetched = adapter.fetch(system.id, receive, item)
        except TransientError as exc:
            return f"fetching {item.ref}: {exc.detail}"
        except PermanentError as exc:
            return self._refused(adapter, system, item, exc, "", result)
        sha256 = hashlib.sha256(fetched.payload).hexdigest()
        if fetched.kind not in (Kind.DOCUMENT.value, Kind.STATUS.value):
            return self._refused(adapter, system, item, PermanentError(
                f"item {item.ref} is of unknown kind {fetched.kind!r}", code="unknown_kind"),
                sha256, result)
        try:
            receipt = self.ingest.submit(system, fetched.payload, fetched.media_type,
                                         Kind(fetched.kind), channel=CHANNEL)
        except TransientError as exc:
            return f"storing {item.ref}: {exc.detail}"
        except PermanentError as exc:
            return self._refused(adapter, system, item, exc, sha256, result)
        (result.stored if receipt.status == "accepted" else result.duplicates).append(
            receipt.id)
        try:
            adapter.acknowledge(system.id, receive, item, DONE)
        except HubError as exc:
            # stored already: listed again next round, it comes back as a duplicate
            return f"acknowledging {item.ref}: {exc.detail}"
        return ""

    def _refused(self, adapter: Poller, system: System, item: Inbound, exc: HubError,
                 sha256: str, result: Round) -> str:
        result.refused.append((item.ref, exc.code))
        log.info("refused item %s polled from %s: %s", item.ref, system.id, exc.code)
        if self.refuse is not None:
            self.refuse(system, exc, item.ref, sha256)
        try:
            adapter.acknowledge(system.id, system.receive, item, FAIL,
                                f"{exc.code}: {exc.detail}")
        except HubError as ack:
            return f"acknowledging {item.ref}: {ack.detail}"
        return ""

    @contextlib.contextmanager
    def _system_lock(self, system_id: str) -> Iterator[bool]:
        """Be the one poller of the system for the round (see the module docstring)."""
        with self._guard:
            local = self._local_locks.setdefault(system_id, threading.Lock())
        if not local.acquire(blocking=False):
            yield False
            return
        try:
            if not self.db.is_postgres:
                yield True
                return
            key = zlib.crc32(system_id.encode("utf-8")) - 2**31  # a signed int4
            conn = None
            held = False
            try:
                conn = self.db.engine.connect()
                held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"),
                                         {"a": ADVISORY_LOCK, "b": key}).scalar())
                conn.commit()
            except OperationalError:
                log.warning("the database is unavailable: system %s not polled", system_id)
            try:
                yield held
            finally:
                if conn is not None:
                    with contextlib.suppress(OperationalError):
                        if held:
                            conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"),
                                         {"a": ADVISORY_LOCK, "b": key})
                            conn.commit()
                    conn.close()
        finally:
            local.release()


class PollerThread(threading.Thread):
    """Runs `poller.poll_due` every `tick_s` until stopped."""

    def __init__(self, poller: InboundPoller) -> None:
        super().__init__(name="lienthong-poller", daemon=True)
        self.poller = poller
        self._stop_event = threading.Event()

    def run(self) -> None:
        tick = self.poller.settings.tick_s
        while not self._stop_event.wait(tick):
            try:
                self.poller.poll_due()
            except Exception:  # the thread outlives a bad round: the next tick tries again
                log.exception("polling failed; trying again in %.1f s", tick)

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=30)
