"""Every refused request is audited exactly once, by one function, on REST and SOAP alike."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from core.settings import Settings
from hub.store.models import Message
from tests import services
from tests.soap_support import envelope, headers, security
from tests.support import (
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
LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def hub(pg_server: str | None, redis_server: str | None) -> Iterator[LiveHub]:
    server = services.require(pg_server, "PostgreSQL")
    redis = services.require(redis_server, "Redis")
    with services.fresh_database(server, "lt_gate") as url:
        settings = Settings(database_url=url, redis_url=redis,
                            broker_namespace=f"lt-gate-{url.rsplit('/', 1)[-1]}",
                            limits={"max_body_bytes": LIMIT})
        with run_receiver() as receiver, run_hub(settings, hue_directory(receiver.url)) as live:
            yield live


def messages(hub: LiveHub) -> int:
    with hub.ctx.db.reading() as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


def invalid_package() -> bytes:
    doc = document(5)
    doc["subject"] = ""
    return body(doc)


def rest(hub: LiveHub, data: bytes, key: str | None) -> httpx.Response:
    h = {"Content-Type": "application/json"}
    if key:
        h["Authorization"] = f"Bearer {key}"
    return httpx.post(f"{hub.url}/api/v1/documents", content=data, headers=h, timeout=30)


def soap(hub: LiveHub, data: bytes, user: str | None, key: str | None) -> httpx.Response:
    call = (f"<lt:SendDocument><lt:PackageBase64>{base64.b64encode(data).decode()}"
            "</lt:PackageBase64><lt:MediaType>application/json</lt:MediaType></lt:SendDocument>")
    header = security(user, key) if user and key else ""
    return httpx.post(f"{hub.url}/soap", content=envelope(call, header),
                      headers=headers("1.2", "SendDocument"), timeout=30)


CASES = {
    # name: (REST call, SOAP call, expected code, actor on REST, actor on SOAP); REST knows
    # the caller before it reads the body, SOAP only once the envelope is read
    "invalid package": (lambda h: rest(h, invalid_package(), KEYS["province"]),
                        lambda h: soap(h, invalid_package(), "province", KEYS["province"]),
                        "validation_failed", "province", "province"),
    "unknown key": (lambda h: rest(h, body(document(6)), "stolen"),
                    lambda h: soap(h, body(document(6)), "province", "stolen"),
                    "invalid_credentials", "unauthenticated", "unauthenticated"),
    "body over the limit": (lambda h: rest(h, b"x" * (LIMIT + 1), KEYS["province"]),
                            lambda h: soap(h, b"x" * LIMIT, "province", KEYS["province"]),
                            "payload_too_large", "province", "unauthenticated"),
}


@pytest.mark.parametrize("channel", ["rest", "soap"])
@pytest.mark.parametrize("case", list(CASES))
def test_one_refusal_one_audit_event(hub: LiveHub, case: str, channel: str) -> None:
    rest_call, soap_call, code, rest_actor, soap_actor = CASES[case]
    close_windows(hub)  # refusals of unknown callers are summed per window: start afresh
    before, stored = last_seq(hub), messages(hub)
    if channel == "rest":
        response, actor = rest_call(hub), rest_actor
        assert 400 <= response.status_code < 500
    else:
        response, actor = soap_call(hub), soap_actor
        assert b"Fault>" in response.content and code.encode() in response.content
    events = events_after(hub, before)
    assert [e["event"] for e in events] == ["message.rejected"]  # once, never twice
    event = events[0]
    assert (event["channel"], event["code"], event["actor"]) == (channel, code, actor)
    assert messages(hub) == stored  # nothing from a refused request is stored


def test_a_refused_read_is_audited_with_the_caller_and_where(hub: LiveHub) -> None:
    before = last_seq(hub)
    r = httpx.get(f"{hub.url}/api/v1/messages/no-such-id",
                  headers={"Authorization": f"Bearer {KEYS['district']}"}, timeout=30)
    assert r.status_code == 404
    events = events_after(hub, before)
    assert len(events) == 1
    assert events[0]["actor"] == "district"
    assert events[0]["where"] == "GET /api/v1/messages/no-such-id"


def test_a_claimed_identity_is_kept_for_the_security_team(hub: LiveHub) -> None:
    close_windows(hub)
    before = last_seq(hub)
    r = soap(hub, body(document(7)), "commune", "guessed-password")
    assert b"Fault>" in r.content and b"invalid_credentials" in r.content
    events = events_after(hub, before)
    assert len(events) == 1
    assert events[0]["claimed_identity"] == "commune"
    assert events[0]["where"] == "SendDocument"
