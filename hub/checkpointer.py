"""The checkpointer: signs the audit chain's head every N events or T seconds.

Every API and worker process runs one (a small thread), since any of them appends events.
Each poll reads the head and the newest checkpoint; when one is due, the process takes the
checkpoint writer lock (a PostgreSQL advisory lock; SQLite's write lock), checks the events
since the previous checkpoint, signs the head, stores the checkpoint and appends it to the
checkpoint file and syslog before committing. One writer at a time keeps the file in chain
order; appenders never wait for it, since the chain head row is not locked.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path

from sqlalchemy import func, select

from core.errors import ServiceUnavailable
from core.settings import Settings
from hub.outage import Outage
from hub.store.db import Database
from security import audit_checkpoints as checkpoints
from security.audit import Checkpoint, read_head
from security.audit_checkpoints import SigningKey, Sinks
from security.audit_tables import AuditCheckpoint

log = logging.getLogger(__name__)


def key_path(settings: Settings) -> Path:
    return settings.audit.signing_key_file or settings.state_dir / "audit-signing.key"


def signing_key(settings: Settings) -> SigningKey:
    """The hub's key, made (and announced in the log) when there is none yet.

    Raises AuditKeyError when the key file exists but cannot be used.
    """
    path = key_path(settings)
    key, created = SigningKey.load_or_create(path)
    if created:
        log.warning("created the audit signing key %s (key id %s): keep a copy in a safe "
                    "place and give auditors its public key (lienthong audit public-key)",
                    path, key.key_id)
    return key


class Checkpointer(threading.Thread):
    """Signs the head when due, until stopped; a last checkpoint on the way out."""

    def __init__(self, db: Database, settings: Settings, key: SigningKey,
                 sinks: Sinks | None = None) -> None:
        super().__init__(name="lienthong-checkpointer", daemon=True)
        self.db = db
        self.audit = settings.audit
        self.key = key
        self.keys = {key.key_id: key.public,
                     **checkpoints.keyring(settings.audit.trusted_public_keys)}
        self.sinks = sinks or Sinks(
            settings.audit.checkpoint_file,
            settings.audit.syslog_address if settings.audit.checkpoint_syslog else None,
            settings.audit.syslog_facility)
        self._stop_event = threading.Event()
        # why the chain could not be signed the last time it was due ("" when it was)
        self.problem = ""
        # polled every second: an outage is said once, not with a traceback a second
        self.database = Outage(log, "audit checkpoints wait: the database is unavailable (%s)",
                               "database reachable again; audit checkpoints resume")

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> Checkpointer:
        """Raises AuditKeyError when the signing key or a trusted public key is unusable."""
        if settings.audit.checkpoint_file is None and not settings.audit.checkpoint_syslog:
            log.warning("audit checkpoints are kept only in the database: set "
                        "audit.checkpoint_file or audit.checkpoint_syslog so that removing "
                        "the end of the audit chain is detected")
        return cls(db, settings, signing_key(settings))

    def checkpoint_once(self, force: bool = False) -> Checkpoint | None:
        """Sign the head if due (or, with `force`, if anything is unsigned); return the new
        checkpoint. Refuses to sign a chain broken since the previous checkpoint.

        Raises ServiceUnavailable when the database is down, sqlalchemy errors otherwise.
        """
        now = dt.datetime.now(dt.UTC)
        with self.db.reading() as session:  # the cheap question first, with no lock
            head = read_head(session)
            last = checkpoints.latest_trusted(session, self.keys)
        if head is None or head.seq <= (last.seq if last else 0):
            return None
        if not force and not checkpoints.due(head, last, self.audit.checkpoint_every_events,
                                             self.audit.checkpoint_every_s, now):
            return None
        with self.db.transaction() as session:
            # only the lock holder checks and signs: after an upgrade, the first check walks
            # the whole chain, and one process doing it is enough
            if not checkpoints.lock_writer(session):
                return None
            last = checkpoints.latest_trusted(session, self.keys)
            newest = session.scalar(select(func.max(AuditCheckpoint.seq)))
            if newest is not None and newest >= head.seq:
                return None
            problem = checkpoints.segment_problem(session, last, head)
            if problem is not None:
                if problem != self.problem:
                    log.error("audit chain broken since the last checkpoint (%s): no "
                              "checkpoint is signed until it is resolved; run lienthong audit "
                              "verify", problem)
                self.problem = problem
                return None
            self.problem = ""
            cp = self.key.sign(head.seq, head.hash)
            checkpoints.record(session, cp)
            try:
                self.sinks.write(cp)
            except OSError:
                log.exception("could not write audit checkpoint %d to %s", cp.seq,
                              self.audit.checkpoint_file)
        log.info("audit checkpoint signed at event %d", cp.seq)
        return cp

    def run(self) -> None:
        poll = min(self.audit.checkpoint_every_s, 1.0)
        while not self._stop_event.wait(poll):
            self._safely()

    def _safely(self, force: bool = False) -> None:
        try:
            self.checkpoint_once(force)
        except ServiceUnavailable as exc:
            self.database.failed(exc)
        except Exception:
            log.warning("audit checkpoint failed; trying again later", exc_info=True)
        else:
            self.database.answered()

    def stop(self) -> None:
        """Stop polling, then sign whatever is still unsigned."""
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=10)
        self._safely(force=True)
        self.sinks.close()
