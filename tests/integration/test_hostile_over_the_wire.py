"""The broken and hostile catalogue sent to a live hub over REST and SOAP: each one gets
its precise code back, the server stays up, and nothing but the rejection is stored."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from core.model import Kind
from hub.store.models import Delivery, Message, Outbox
from security.audit import verify
from security.audit_tables import AuditEvent
from tests.corpus_directory import CORPUS_KEYS, corpus_directory
from tests.soap_support import envelope, headers, read_fault, security
from tests.support import LiveHub, run_hub
from tests.unit.test_hostile_catalogue import CASES

pytestmark = pytest.mark.integration
# cases that need their own settings (small limits) are covered by the unit catalogue
WIRE_CASES = [c for c in CASES if not c.settings]
# over the wire an empty body is refused by the pipeline before any codec sees it
WIRE_CODE = {"empty body": "empty_body"}


@pytest.fixture(scope="module")
def hub(pg_server: str | None, redis_server: str | None) -> Iterator[LiveHub]:
    from core.settings import Settings
    from tests import services

    server = services.require(pg_server, "PostgreSQL")
    redis = services.require(redis_server, "Redis")
    with services.fresh_database(server, "lt_hostile") as url:
        settings = Settings(database_url=url, redis_url=redis,
                            broker_namespace=f"lt-hostile-{url.rsplit('/', 1)[-1]}")
        with run_hub(settings, corpus_directory()) as live:
            yield live


def codes_of(problem: dict) -> set[str]:
    return {problem.get("code", "")} | {e.get("code", "") for e in problem.get("errors", [])}


def test_catalogue_over_rest_and_soap_stores_nothing(hub: LiveHub) -> None:
    assert len(WIRE_CASES) >= 40
    key = CORPUS_KEYS["vpcp"]
    misses = []
    for case in WIRE_CASES:
        path = "documents" if case.kind is Kind.DOCUMENT else "statuses"
        expected = WIRE_CODE.get(case.id, case.code)
        r = httpx.post(f"{hub.url}/api/v1/{path}", content=case.raw, timeout=30, headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/xml"})
        if not (400 <= r.status_code < 500 and expected in codes_of(r.json())):
            misses.append(("rest", case.id, r.status_code, r.text[:300]))

        operation = "SendDocument" if case.kind is Kind.DOCUMENT else "SendStatus"
        call = (f"<lt:{operation}><lt:PackageBase64>{base64.b64encode(case.raw).decode()}"
                f"</lt:PackageBase64></lt:{operation}>")
        s = httpx.post(f"{hub.url}/soap", timeout=30,
                       content=envelope(call, security("vpcp", key), "1.2"),
                       headers=headers("1.2", operation))
        fault = read_fault(s.content)
        found = {fault.code} | {e.get("Code", e.get("code", "")) for e in fault.errors}
        if s.status_code != 500 or expected not in found:
            misses.append(("soap", case.id, s.status_code, s.text[:300]))
    assert not misses, json.dumps(misses, ensure_ascii=False, indent=1)
    assert httpx.get(f"{hub.url}/healthz").status_code == 200
    with hub.ctx.db.reading() as session:
        for table in (Message, Delivery, Outbox):
            assert session.scalar(select(func.count()).select_from(table)) == 0, table
        rejected = session.scalar(select(func.count()).select_from(AuditEvent)
                                  .where(AuditEvent.event == "message.rejected"))
        assert rejected == 2 * len(WIRE_CASES)
        assert verify(session).ok
