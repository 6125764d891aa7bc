"""The ingest pipeline: parse, validate, verify the signature, authorise, route, de-duplicate,
persist, dispatch.

The caller is already identified and the body read within limits (hub/api/guard.py); a
refusal raised here is audited where it is answered, and nothing else from it is stored.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from core.hops import Hop, refuse_loop
from core.model import Kind
from core.settings import Settings
from hub.ingest.authorise import authorise
from hub.ingest.deduplicate import content_digest, dedup_key
from hub.ingest.parse import parse
from hub.ingest.persist import GroupCommitter
from hub.ingest.route import route
from hub.ingest.submission import Receipt, Submission
from hub.ingest.verify import verify
from hub.metrics import Metrics
from hub.routing_config import RoutingState
from hub.store.db import Database
from routing.directory import System
from schemas.codec import CodecRegistry
from security.signatures.verifier import SignatureVerifier

log = logging.getLogger(__name__)


class Dispatch(Protocol):
    def dispatch(self, delivery_ids: list[str], priority: int = 0) -> None: ...


class Ingest:
    """Takes a package in; answers only once it is committed."""

    def __init__(
        self,
        settings: Settings,
        routing: RoutingState,
        db: Database,
        codecs: CodecRegistry,
        dispatcher: Dispatch,
        metrics: Metrics | None = None,
        verifier: SignatureVerifier | None = None,
    ) -> None:
        """Raises TrustStoreError when the configured trust anchors or CRLs cannot be read."""
        self.settings = settings
        self.routing = routing
        self.db = db
        self.codecs = codecs
        self.dispatcher = dispatcher
        self.writer = GroupCommitter(db, routing.current().directory)
        self.metrics = metrics or Metrics()
        self.verifier = verifier or SignatureVerifier(settings.signatures, settings.limits)

    def close(self) -> None:
        self.writer.close()

    # -- steps 3..8 -------------------------------------------------------------------------
    def submit(
        self, system: System, raw: bytes, media_type: str, kind: Kind, channel: str = "rest",
        *, hops: tuple[Hop, ...] = (),
    ) -> Receipt:
        """Run a package through the pipeline.

        Raises a PermanentError subclass for bad input, a refused signature or a DocumentId
        already used for another document (DocumentIdReused; audited, nothing stored) or
        ServiceUnavailable when the database is down; Conflict (federation_loop) when `hops`,
        the hubs the package came through, already name this hub.
        """
        refuse_loop(hops, self.settings.hub_organ_id)
        started = time.perf_counter()
        # one routing snapshot (directory and rules) for the whole submission
        config = self.routing.current()
        directory = config.directory
        sub = Submission(system=system, raw=raw, media_type=media_type, kind=kind,
                         channel=channel, directory=directory, hops=hops)
        parse(sub, self.codecs, system.profile(self.settings.validation.profile))
        verify(sub, self.verifier, directory)
        authorise(sub, directory)
        route(sub, directory, self.settings, config.rules)
        sub.content_digest = content_digest(sub, self.settings.limits)
        sub.dedup_key = dedup_key(sub)
        receipt, outbox = self._store(sub)
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
