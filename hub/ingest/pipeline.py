"""The ingest pipeline: authenticate, limits, parse, validate, authorise, route, de-duplicate,
persist, dispatch. Every rejection is audited; nothing else from it is stored."""

from __future__ import annotations

import logging
import time
from typing import Protocol

from core.errors import HubError, PermanentError
from core.model import Kind
from core.settings import Settings
from hub.ingest.authorise import authorise
from hub.ingest.deduplicate import dedup_key
from hub.ingest.parse import parse
from hub.ingest.persist import GroupCommitter
from hub.ingest.route import route
from hub.ingest.submission import Receipt, Submission
from hub.metrics import Metrics
from hub.store.db import Database
from routing.directory import Directory, System
from schemas.codec import CodecRegistry
from security import audit
from security.auth import authenticate_bearer, authenticate_password

log = logging.getLogger(__name__)


class Dispatch(Protocol):
    def dispatch(self, delivery_ids: list[str], priority: int = 0) -> None: ...


class Ingest:
    """Takes a package in; answers only once it is committed."""

    def __init__(
        self,
        settings: Settings,
        directory: Directory,
        db: Database,
        codecs: CodecRegistry,
        dispatcher: Dispatch,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.directory = directory
        self.db = db
        self.codecs = codecs
        self.dispatcher = dispatcher
        self.writer = GroupCommitter(db, directory)
        self.metrics = metrics or Metrics()

    def close(self) -> None:
        self.writer.close()

    # -- step 1: who is calling ------------------------------------------------------------
    def authenticate(self, authorization: str | None, channel: str = "rest") -> System:
        """Raises AuthenticationFailed (and audits it)."""
        try:
            return authenticate_bearer(self.directory, authorization)
        except PermanentError as exc:
            self.record_rejection(None, channel, exc)
            raise

    def authenticate_password(self, username: str, password: str, channel: str = "soap") -> System:
        """Raises AuthenticationFailed (and audits it)."""
        try:
            return authenticate_password(self.directory, username, password)
        except PermanentError as exc:
            self.record_rejection(None, channel, exc, claimed=username)
            raise

    # -- steps 3..8 -------------------------------------------------------------------------
    def submit(
        self, system: System, raw: bytes, media_type: str, kind: Kind, channel: str = "rest"
    ) -> Receipt:
        """Run a package through the pipeline.

        Raises a PermanentError subclass for bad input (audited, nothing stored) or
        ServiceUnavailable when the database is down.
        """
        started = time.perf_counter()
        sub = Submission(system=system, raw=raw, media_type=media_type, kind=kind,
                         channel=channel)
        try:
            parse(sub, self.codecs)
            authorise(sub, self.directory)
            route(sub, self.directory, self.settings)
            sub.dedup_key = dedup_key(sub)
            receipt, outbox = self._store(sub)
        except PermanentError as exc:
            self.record_rejection(system.id, channel, exc)
            raise
        if outbox:
            self.dispatcher.dispatch(outbox, priority=sub.parsed.priority)
        if receipt.status == "accepted":
            self.metrics.accepted.labels(kind.value, channel, sub.parsed.form.value).inc()
        else:
            self.metrics.duplicates.labels(kind.value).inc()
        self.metrics.ingest_seconds.labels(kind.value).observe(time.perf_counter() - started)
        log.info("accepted %s %s from %s (%s)", kind.value, receipt.id, system.id, receipt.status)
        return receipt

    def _store(self, sub: Submission) -> tuple[Receipt, list[str]]:
        return self.writer.store(sub)

    # -- rejections --------------------------------------------------------------------------
    def record_rejection(
        self, system_id: str | None, channel: str, exc: HubError, claimed: str | None = None
    ) -> None:
        """Audit a refused submission: who, why, where; never the payload."""
        self.metrics.rejected.labels(exc.code, channel).inc()
        detail: dict[str, object] = {
            "channel": channel,
            "code": exc.code,
            "status": exc.http_status,
            "reason": exc.detail,
            "paths": [e.path for e in exc.errors][:50],
        }
        if claimed:
            detail["claimed_identity"] = claimed[:64]
        try:
            self.writer.record([audit.PendingEvent(
                "message.rejected", actor=system_id or "unauthenticated", detail=detail)])
        except HubError:
            log.exception("could not audit a rejection (%s)", exc.code)
