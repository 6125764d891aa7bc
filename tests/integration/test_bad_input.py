"""Every bad input gets a 4xx problem+json with a stable code and paths; nothing is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.settings import Settings
from hub.store.models import Delivery, Message, Outbox
from security.audit import verify
from security.audit_tables import AuditEvent
from tests import services
from tests.support import (
    DEPARTMENT,
    DISTRICT,
    KEYS,
    LiveHub,
    body,
    document,
    hue_directory,
    run_hub,
    run_receiver,
)

pytestmark = pytest.mark.integration
LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def hub(pg_server: str | None, redis_server: str | None) -> Iterator[LiveHub]:
    server = services.require(pg_server, "PostgreSQL")
    redis = services.require(redis_server, "Redis")
    with services.fresh_database(server, "lt_bad") as url:
        settings = Settings(database_url=url, redis_url=redis,
                            broker_namespace=f"lt-bad-{url.rsplit('/', 1)[-1]}",
                            limits={"max_body_bytes": LIMIT})
        with run_receiver() as receiver, run_hub(settings, hue_directory(receiver.url)) as live:
            yield live


def headers(key: str | None = KEYS["province"], ctype: str = "application/json") -> dict:
    h = {"Content-Type": ctype}
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    return h


def bad_field() -> bytes:
    doc = document(1)
    doc["subject"] = ""
    # past the 64 characters the interop profile carries (11 is the standard's maximum)
    doc["code"]["codeNumber"] = "1" * 65
    return body(doc)


def chunks(data: bytes) -> Iterator[bytes]:
    for i in range(0, len(data), 8192):
        yield data[i:i + 8192]


CASES: list[tuple[str, dict[str, Any], int, str, set[str]]] = [
    ("no key", {"content": body(document(1)), "headers": headers(None)}, 401,
     "missing_credentials", set()),
    ("wrong key", {"content": body(document(1)), "headers": headers("not-a-key")}, 401,
     "invalid_credentials", set()),
    ("wrong scheme", {"content": body(document(1)),
                      "headers": {**headers(), "Authorization": "Token x"}}, 401,
     "malformed_credentials", set()),
    ("wrong sender", {"content": body(document(1)), "headers": headers(KEYS["district"])}, 403,
     "sender_not_served", {"/from/organId"}),
    ("unknown recipient", {"content": body(document(1, to=(DEPARTMENT, "000.00.77.H57"))),
                           "headers": headers()}, 422, "unknown_recipient", {"/to/1/organId"}),
    ("malformed organ id", {"content": body(document(1, to=(DISTRICT, "H57-xyz"))),
                            "headers": headers()}, 422, "invalid_organ_id", {"/to/1/organId"}),
    ("invalid fields", {"content": bad_field(), "headers": headers()}, 422, "validation_failed",
     {"/subject", "/code/codeNumber"}),
    ("missing field", {"content": body({k: v for k, v in document(1).items() if k != "code"}),
                       "headers": headers()}, 422, "validation_failed", {"/"}),
    ("impossible date", {"content": body(document(1, promulgationInfo={
        "promulgationDate": "2026/02/30"})), "headers": headers()}, 422, "validation_failed",
     {"/promulgationInfo/promulgationDate"}),
    ("oversize body", {"content": b" " * (LIMIT + 1) + body(document(1)), "headers": headers()},
     413, "payload_too_large", set()),
    ("oversize chunked body", {"content": chunks(b" " * (LIMIT * 2)), "headers": headers()},
     413, "payload_too_large", set()),
    ("not json", {"content": b"<<not json>>", "headers": headers()}, 400, "json_malformed",
     {"/"}),
    ("json array", {"content": b"[]", "headers": headers()}, 422, "validation_failed", {"/"}),
    ("empty body", {"content": b"", "headers": headers()}, 400, "empty_body", set()),
    ("wrong content type", {"content": body(document(1)), "headers": headers(ctype="text/plain")},
     415, "unsupported_media_type", set()),
]


@pytest.mark.parametrize(("name", "request_kw", "status", "code", "paths"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_a_stable_code(
    hub: LiveHub, name: str, request_kw: dict, status: int, code: str, paths: set[str]
) -> None:
    with hub.ctx.db.reading() as session:
        rejected_before = session.scalar(
            select(func.count()).select_from(AuditEvent)
            .where(AuditEvent.event == "message.rejected"))
    r = httpx.post(f"{hub.url}/api/v1/documents", **request_kw)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == code
    assert problem["status"] == status
    assert problem["detail"]  # a human sentence
    assert {e["path"] for e in problem.get("errors", [])} == paths
    with hub.ctx.db.reading() as session:
        for table in (Message, Delivery, Outbox):
            assert session.scalar(select(func.count()).select_from(table)) == 0, table
        rejections = session.execute(
            select(AuditEvent).where(AuditEvent.event == "message.rejected")
            .order_by(AuditEvent.seq.desc())).scalars().all()
        assert len(rejections) == rejected_before + 1
        assert json.loads(rejections[0].detail)["code"] == code
    assert httpx.get(f"{hub.url}/healthz").status_code == 200


def test_rejections_keep_the_audit_chain_intact(hub: LiveHub) -> None:
    # refusals of unknown callers are summed per window: start from closed windows, so this
    # one is written at once
    assert hub.ctx.refusals is not None
    hub.ctx.refusals.flush(everything=True)
    with hub.ctx.db.reading() as session:
        before = verify(session)
    r = httpx.post(f"{hub.url}/api/v1/documents", content=b"x", headers=headers("nope"))
    assert r.status_code == 401
    with hub.ctx.db.reading() as session:
        after = verify(session)
        [last] = session.execute(select(AuditEvent).where(AuditEvent.seq == after.events)
                                 ).scalars().all()
    assert before.ok and after.ok
    assert after.events == before.events + 1  # the rejection is a link of the chain
    assert (last.event, json.loads(last.detail)["code"]) == (
        "message.rejected", "invalid_credentials")


def test_unknown_message_is_not_found(hub: LiveHub) -> None:
    r = httpx.get(f"{hub.url}/api/v1/messages/nope", headers=headers())
    assert r.status_code == 404
    assert r.json()["code"] == "message_not_found"
