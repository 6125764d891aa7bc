"""Every audit event names its actor, the organisations concerned, the DocumentId and the raw
package's SHA-256: what the security team searches by (received, routed, delivered, failed,
dead-lettered, replayed, acknowledged, status recorded, rejected)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from adapters.memory import MemoryAdapter
from adapters.registry import AdapterRegistry
from core.errors import DeliveryRejected
from core.model import Kind
from core.settings import Settings
from hub.app import create_app
from hub.context import HubContext
from hub.deadletters import replay
from hub.query import message_view
from routing.directory import Directory
from security import audit
from security.audit_tables import AuditEvent
from security.egress import Egress
from tests.support import body, document, key_hash, status

SENDER, PUSHED, PULLED = "000.00.00.H57", "000.00.02.H57", "000.00.21.H57"


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[HubContext]:
    directory = Directory.from_dict({
        "organizations": [{"code": SENDER, "name": "Tỉnh", "level": "province"},
                          {"code": PUSHED, "name": "Sở", "level": "department"},
                          {"code": PULLED, "name": "Huyện", "level": "district"}],
        "systems": [
            {"id": "tinh", "organizations": [SENDER], "api_key_hashes": [key_hash("k-tinh")],
             "receive": {"mode": "pull"}},
            {"id": "so", "organizations": [PUSHED],
             "receive": {"mode": "push", "adapter": "memory", "url": "http://so.invalid/in"}},
            {"id": "huyen", "organizations": [PULLED], "api_key_hashes": [key_hash("k-huyen")],
             "receive": {"mode": "pull"}},
        ]})
    registry = AdapterRegistry(Egress([]), factories={})
    registry.register("memory", MemoryAdapter(
        fail_first=2, error=lambda: DeliveryRejected("HTTP 400 from the receiver")))
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", embedded_worker=False,
                        delivery={"max_attempts": 3, "min_backoff_ms": 1, "max_backoff_ms": 2})
    hub = HubContext.build(settings, directory=directory, adapters=registry)
    hub.deliverer.schedule = lambda ids, prio, delay: None  # attempts are driven by the test
    try:
        yield hub
    finally:
        hub.close()


def events(ctx: HubContext, name: str) -> list[audit.Record]:
    with ctx.db.reading() as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.event == name)
                               .order_by(AuditEvent.seq)).scalars().all()
        return [audit.Record.from_row(r) for r in rows]


def package_sha256(ctx: HubContext, message_id: str) -> str:
    return str(message_view(ctx.db, ctx.settings, None, message_id)["sha256"])


def named(e: audit.Record) -> tuple[str, str, str | None, str | None]:
    return e.actor, e.organizations, e.document_id, e.sha256


def test_a_document_s_life_is_searchable_by_organisation_document_and_digest(
        ctx: HubContext) -> None:
    sender = ctx.directory.system("tinh")
    assert sender is not None
    raw = body(document(7, to=(PUSHED, PULLED)))
    receipt = ctx.ingest.submit(sender, raw, "application/json", Kind.DOCUMENT)
    doc_id, digest = receipt.document_id, hashlib.sha256(raw).hexdigest()
    assert package_sha256(ctx, receipt.id) == digest
    everyone = f"{SENDER} {PUSHED} {PULLED}"
    assert [named(e) for e in events(ctx, "message.received")] == [
        ("tinh", everyone, doc_id, digest)]
    assert [named(e) for e in events(ctx, "message.routed")] == [
        ("hub", everyone, doc_id, digest)]

    view = message_view(ctx.db, ctx.settings, None, receipt.id)
    pushed = next(d["id"] for d in view["deliveries"] if d["recipient"] == PUSHED)
    assert ctx.deliverer.run(pushed).state == "dead"  # the receiver refuses (HTTP 400)
    replay(ctx, pushed, actor="operator:lan")
    assert ctx.deliverer.run(pushed).state == "dead"
    replay(ctx, pushed, actor="operator:lan")
    assert ctx.deliverer.run(pushed).state == "delivered"
    pair = f"{SENDER} {PUSHED}"
    for name, actor in (("delivery.failed", "hub"), ("delivery.dead_lettered", "hub"),
                        ("delivery.replayed", "operator:lan"), ("delivery.succeeded", "hub")):
        found = events(ctx, name)
        assert found, name
        assert {named(e) for e in found} == {(actor, pair, doc_id, digest)}, name
        assert {e.message_id for e in found} == {receipt.id}
    assert events(ctx, "delivery.succeeded")[0].detail["worker"]  # which process, in detail

    huyen = ctx.directory.system("huyen")
    assert huyen is not None
    ctx.inbox.ack(huyen, receipt.id, "done")
    assert [named(e) for e in events(ctx, "message.acknowledged")] == [
        ("huyen", f"{SENDER} {PULLED}", doc_id, digest)]

    status_raw = body(status(str(doc_id), PULLED, SENDER))
    answer = ctx.ingest.submit(huyen, status_raw, "application/json", Kind.STATUS)
    [recorded] = events(ctx, "status.recorded")
    assert recorded.message_id == receipt.id  # the document the status is about
    assert named(recorded) == ("huyen", f"{SENDER} {PULLED}", doc_id,
                               hashlib.sha256(status_raw).hexdigest())
    assert answer.document_id == doc_id
    with ctx.db.reading() as session:
        assert audit.verify(session).ok


def test_a_rejection_names_the_caller_its_organisations_and_the_body_digest(
        ctx: HubContext) -> None:
    app = create_app(ctx.settings, context=ctx)
    bad: dict[str, Any] = document(8, to=(PUSHED,))
    del bad["subject"]
    raw = json.dumps(bad).encode()
    with TestClient(app) as client:
        refused = client.post("/api/v1/documents", content=raw,
                              headers={"Authorization": "Bearer k-tinh",
                                       "Content-Type": "application/json"})
        anonymous = client.post("/api/v1/documents", content=raw,
                                headers={"Content-Type": "application/json"})
    assert (refused.status_code, anonymous.status_code) == (422, 401)
    first, second = events(ctx, "message.rejected")
    assert named(first) == ("tinh", SENDER, None, hashlib.sha256(raw).hexdigest())
    assert named(second) == ("unauthenticated", "", None, None)
