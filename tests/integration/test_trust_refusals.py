"""The trust face from a caller's side: a spoofed sender, another system's key, a document
type the system may not send, a replay and a person without the role are each refused (or,
for the replay, answered without storing anything) and each leaves its audit event."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.settings import Settings
from hub.store.models import Message
from routing.directory import Directory, SendRules
from security import people
from tests import services
from tests.soap_support import envelope, headers, security
from tests.support import (
    COMMUNE,
    DEPARTMENT,
    DISTRICT,
    KEYS,
    LiveHub,
    body,
    close_windows,
    document,
    events_after,
    hue_directory,
    last_seq,
    run_hub,
    run_receiver,
)

pytestmark = pytest.mark.integration


def limited_commune(receiver_url: str) -> Directory:
    """The Huế directory, with the commune allowed to send reports and letters only."""
    base = hue_directory(receiver_url)
    systems = [s.model_copy(update={"sends": SendRules(document_types=("Báo cáo", "Công văn"))})
               if s.id == "commune" else s for s in base.systems()]
    return Directory(base.organizations(), systems)


@pytest.fixture(scope="module")
def hub(pg_server: str | None, redis_server: str | None) -> Iterator[LiveHub]:
    server = services.require(pg_server, "PostgreSQL")
    redis = services.require(redis_server, "Redis")
    with services.fresh_database(server, "lt_trust") as url:
        settings = Settings(database_url=url, redis_url=redis,
                            broker_namespace=f"lt-trust-{url.rsplit('/', 1)[-1]}")
        with run_receiver() as receiver, run_hub(settings, limited_commune(receiver.url)) as h:
            yield h


def stored(hub: LiveHub) -> int:
    with hub.ctx.db.reading() as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


def post(hub: LiveHub, payload: dict[str, Any], key: str) -> httpx.Response:
    return httpx.post(f"{hub.url}/api/v1/documents", content=body(payload), timeout=30,
                      headers={"Content-Type": "application/json",
                               "Authorization": f"Bearer {key}"})


def test_a_spoofed_sender_is_refused_and_audited(hub: LiveHub) -> None:
    close_windows(hub)
    before, count = last_seq(hub), stored(hub)
    r = post(hub, document(31, sender=DEPARTMENT, to=(DISTRICT,)), KEYS["province"])
    assert (r.status_code, r.json()["code"]) == (403, "sender_not_served")
    assert r.json()["errors"][0]["path"] == "/from/organId"
    [event] = events_after(hub, before)
    assert (event["event"], event["actor"], event["code"]) == (
        "message.rejected", "province", "sender_not_served")
    assert stored(hub) == count


@pytest.mark.parametrize("channel", ["rest", "soap"])
def test_another_systems_key_is_refused_and_audited(hub: LiveHub, channel: str) -> None:
    close_windows(hub)
    before = last_seq(hub)
    # the department's name with the province's key
    if channel == "rest":
        basic = base64.b64encode(f"department:{KEYS['province']}".encode()).decode()
        r = httpx.get(f"{hub.url}/api/v1/inbox", headers={"Authorization": f"Basic {basic}"})
        assert (r.status_code, r.json()["code"]) == (401, "invalid_credentials")
    else:
        r = httpx.post(f"{hub.url}/soap", headers=headers("1.2", "GetOrganizations"),
                       content=envelope("<lt:GetOrganizations/>",
                                        security("department", KEYS["province"])))
        assert b"invalid_credentials" in r.content
    [event] = events_after(hub, before)
    assert (event["code"], event["claimed_identity"], event["channel"]) == (
        "invalid_credentials", "department", channel)


def test_a_document_type_the_system_may_not_send_is_refused_and_audited(hub: LiveHub) -> None:
    close_windows(hub)
    before, count = last_seq(hub), stored(hub)
    decision = document(32, sender=COMMUNE, to=(DISTRICT,))  # a Quyết định
    r = post(hub, decision, KEYS["commune"])
    assert (r.status_code, r.json()["code"]) == (403, "document_type_not_allowed")
    assert r.json()["errors"][0]["path"] == "/documentType/typeName"
    assert "Báo cáo" in r.json()["detail"] and r.json()["detail_vi"]
    [event] = events_after(hub, before)
    assert (event["actor"], event["code"]) == ("commune", "document_type_not_allowed")
    assert stored(hub) == count
    # the same unit's report passes, however the clerk spelled the type's case and spaces
    report = document(33, sender=COMMUNE, to=(DISTRICT,),
                      documentType={"type": "9", "typeName": "BÁO  cáo"})
    assert post(hub, report, KEYS["commune"]).status_code == 202


def test_a_replay_is_answered_with_the_first_id_stores_nothing_and_is_audited(
    hub: LiveHub
) -> None:
    package = document(34, to=(DEPARTMENT,))
    first = post(hub, package, KEYS["province"])
    assert first.status_code == 202
    before, count = last_seq(hub), stored(hub)
    again = post(hub, package, KEYS["province"])
    assert (again.status_code, again.json()["status"], again.json()["id"]) == (
        200, "duplicate", first.json()["id"])
    assert stored(hub) == count
    [event] = events_after(hub, before)
    assert (event["event"], event["actor"], event["message_id"]) == (
        "message.duplicate", "province", first.json()["id"])
    assert event["sha256"] and event["channel"] == "rest"


def test_a_person_without_the_role_is_refused_and_audited(hub: LiveHub) -> None:
    with hub.ctx.db.transaction() as session:
        token = people.add(session, "op-trust", "operator", actor="cli:test", days=1).token
    close_windows(hub)
    before = last_seq(hub)
    r = httpx.get(f"{hub.url}/api/v1/audit", headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()["code"]) == (403, "role_forbidden")
    [event] = events_after(hub, before)
    assert (event["actor"], event["code"], event["where"]) == (
        "person:op-trust", "role_forbidden", "GET /api/v1/audit")
