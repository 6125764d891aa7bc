"""The door under attack: rate limits, summed audit of floods, header and body limits."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from core.settings import Settings
from security.audit import verify
from tests import services
from tests.soap_support import envelope, headers, security
from tests.support import (
    KEYS,
    LiveHub,
    body,
    document,
    events_after,
    hue_directory,
    last_seq,
    run_hub,
    run_receiver,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def door(pg_server: str | None, redis_server: str | None) -> Iterator[Callable[..., Any]]:
    """Start hubs (production mode: PostgreSQL and Redis) with the given door settings."""
    server = services.require(pg_server, "PostgreSQL")
    redis = services.require(redis_server, "Redis")
    with services.fresh_database(server, "lt_door") as url:

        @contextmanager
        def start(namespace: str = "", **over: Any) -> Iterator[LiveHub]:
            settings = Settings(database_url=url, redis_url=redis,
                                broker_namespace=namespace or f"lt-door-{url.rsplit('/', 1)[-1]}",
                                **over)
            with run_receiver() as receiver, run_hub(settings, hue_directory(receiver.url)) as h:
                yield h

        yield start


def flood(hub: LiveHub, n: int, key: Callable[[int], str]) -> list[httpx.Response]:
    async def attack() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=hub.url, timeout=30) as client:
            sem = asyncio.Semaphore(16)

            async def one(i: int) -> httpx.Response:
                async with sem:
                    return await client.post("/api/v1/documents", content=b"{}", headers={
                        "Content-Type": "application/json", "Authorization": f"Bearer {key(i)}"})

            return await asyncio.gather(*(one(i) for i in range(n)))

    return asyncio.run(attack())


def test_a_flood_of_bad_keys_is_cut_off_and_audited_as_sums(door: Callable[..., Any]) -> None:
    n = 300
    with door(rate_limits={"failure_burst": 20, "failures_per_min": 30}) as hub:
        before = last_seq(hub)
        answers = flood(hub, n, lambda i: f"stolen-key-{i}")
        statuses = [r.status_code for r in answers]
        # the burst is answered 401 (plus what was already in flight past the door, at most
        # the 16 concurrent requests), then the source is shut out
        assert 20 <= statuses.count(401) <= 20 + 16
        assert statuses.count(429) == n - statuses.count(401)
        limited = next(r for r in answers if r.status_code == 429)
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["code"] == "rate_limited" and limited.json()["detail_vi"]
        # while shut out, even a good key from that address is refused
        r = httpx.post(f"{hub.url}/api/v1/documents", content=body(document(1)), headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {KEYS['province']}"})
        assert r.status_code == 429
        immediate = events_after(hub, before)
        assert hub.ctx.refusals is not None
        hub.ctx.refusals.flush(everything=True)
        rows = events_after(hub, before)
        # one row when each kind first appears, one with the count when its window closes
        assert len(immediate) == 2 and len(rows) == 4
        assert {r["event"] for r in rows} == {"message.rejected"}
        assert sum(r["count"] for r in rows) == n + 1
        assert {r["code"] for r in rows} == {"invalid_credentials", "rate_limited"}
        assert all(r["source"] == "127.0.0.1" for r in rows)
        with hub.ctx.db.reading() as session:
            assert verify(session).ok


def test_the_block_lifts_after_its_time(door: Callable[..., Any]) -> None:
    with door(rate_limits={"failure_burst": 3, "failures_per_min": 6, "block_s": 1.0}) as hub:
        bad = {"Content-Type": "application/json", "Authorization": "Bearer wrong"}
        statuses = [httpx.post(f"{hub.url}/api/v1/documents", content=b"{}",
                               headers=bad).status_code for _ in range(5)]
        assert statuses == [401, 401, 401, 401, 429]
        deadline = time.monotonic() + 10
        good = {"Content-Type": "application/json",
                "Authorization": f"Bearer {KEYS['province']}"}
        while time.monotonic() < deadline:
            r = httpx.post(f"{hub.url}/api/v1/documents", content=body(document(2)),
                           headers=good)
            if r.status_code != 429:
                break
            time.sleep(0.2)
        assert r.status_code == 202, r.text


def test_a_system_over_its_rate_is_told_to_come_back(door: Callable[..., Any]) -> None:
    with door(rate_limits={"system_per_s": 1, "system_burst": 3}) as hub:
        auth = {"Authorization": f"Bearer {KEYS['district']}"}
        codes = [httpx.get(f"{hub.url}/api/v1/inbox", headers=auth).status_code
                 for _ in range(6)]
        assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
        # another system is not held back by the first one's rate
        other = httpx.get(f"{hub.url}/api/v1/inbox",
                          headers={"Authorization": f"Bearer {KEYS['province']}"})
        assert other.status_code == 200


def test_rate_limits_are_shared_by_every_process_through_redis(door: Callable[..., Any]) -> None:
    # two hubs on one Redis namespace play two API processes of one deployment
    shared = {"rate_limits": {"system_per_s": 0.5, "system_burst": 4}}
    with door("lt-door-shared", **shared) as a, door("lt-door-shared", **shared) as b:
        auth = {"Authorization": f"Bearer {KEYS['district']}"}
        codes = [httpx.get(f"{hub.url}/api/v1/inbox", headers=auth).status_code
                 for hub in (a, b, a, b, a, b)]
        assert codes[:4] == [200] * 4 and codes[4:] == [429, 429]


def test_soap_over_the_limit_gets_a_fault_with_the_same_code(door: Callable[..., Any]) -> None:
    with door(rate_limits={"failure_burst": 2, "failures_per_min": 2}) as hub:
        orgs = "<lt:GetOrganizations/>"
        answers = [httpx.post(f"{hub.url}/soap", headers=headers("1.2", "GetOrganizations"),
                              content=envelope(orgs, security("district", "guess")))
                   for _ in range(4)]
        limited = answers[-1]
        assert limited.status_code == 429
        assert b"rate_limited" in limited.content and b"Fault>" in limited.content
        assert int(limited.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(("extra", "why"), [
    ({f"X-Pad-{i}": "x" for i in range(150)}, "count"),
    ({"X-Big": "x" * 40_000}, "size"),
])
def test_oversize_headers_are_refused_before_any_route(
    door: Callable[..., Any], extra: dict[str, str], why: str
) -> None:
    with door() as hub:
        before = last_seq(hub)
        r = httpx.post(f"{hub.url}/api/v1/documents", content=body(document(3)), headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {KEYS['province']}",
            **extra})
        assert r.status_code == 431, why
        assert r.json()["code"] == "headers_too_large"
        rows = events_after(hub, before)
        assert [row["code"] for row in rows] == ["headers_too_large"]


def test_a_body_that_trickles_in_is_cut_off(door: Callable[..., Any]) -> None:
    with door(limits={"body_timeout_s": 1.0}) as hub:
        host, port = hub.url.removeprefix("http://").split(":")
        payload = body(document(4))
        with socket.create_connection((host, int(port)), timeout=15) as s:
            s.sendall(
                b"POST /api/v1/documents HTTP/1.1\r\nHost: hub\r\n"
                b"Content-Type: application/json\r\n"
                + f"Authorization: Bearer {KEYS['province']}\r\n".encode()
                + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload[:10])
            started = time.monotonic()
            answer = s.recv(65536)
            waited = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
        assert b"body_timeout" in answer
        assert waited < 10  # cut off near the limit, not left hanging
