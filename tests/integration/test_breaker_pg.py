"""The circuit breaker on a real hub (PostgreSQL, Redis, the embedded worker): a receiving
system that keeps failing stops being called, its deliveries wait without spending attempts,
its state shows in the directory API, and it gets everything once a probe gets through."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from hub.store.models import Delivery
from tests.support import (
    DEPARTMENT,
    KEYS,
    LiveHub,
    Receiver,
    body,
    document,
    holds_for,
    hue_directory,
    run_hub,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def hub(make_settings, pg_url: str, redis_url: str, receiver: Receiver) -> Iterator[LiveHub]:
    settings = make_settings(database_url=pg_url, redis_url=redis_url, embedded_worker=True,
                             delivery={"max_attempts": 50, "breaker_failures": 3,
                                       "breaker_cooldown_s": 3.0})
    with run_hub(settings, hue_directory(receiver.url)) as live:
        yield live


def send(hub: LiveHub, number: int) -> str:
    r = httpx.post(f"{hub.url}/api/v1/documents", content=body(document(number,
                   to=(DEPARTMENT,))), headers={"Authorization": f"Bearer {KEYS['province']}",
                                                "Content-Type": "application/json"})
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def attempts(hub: LiveHub) -> dict[str, int]:
    with hub.ctx.db.reading() as session:
        return {m: a for m, a in session.execute(
            select(Delivery.message_id, Delivery.attempts)
            .where(Delivery.recipient_org == DEPARTMENT))}


def health(hub: LiveHub) -> dict[str, object]:
    r = httpx.get(f"{hub.url}/api/v1/organizations",
                  headers={"Authorization": f"Bearer {KEYS['province']}"})
    assert r.status_code == 200, r.text
    [org] = [o for o in r.json()["items"] if o["code"] == DEPARTMENT]
    return dict(org["delivery_health"])


def test_a_dead_system_is_left_alone_then_probed_and_gets_everything(
        hub: LiveHub, receiver: Receiver) -> None:
    receiver.fail("/department", *([503] * 100_000))
    first = send(hub, 801)
    wait_until(lambda: health(hub)["state"] == "open", what="the breaker to open",
               progress=lambda: health(hub))
    assert attempts(hub)[first] == 3
    later = [send(hub, n) for n in (802, 803)]
    # while it is open nothing is tried: not the failing one, not the new ones
    holds_for(lambda: sum(attempts(hub).values()) == 3, 2.0,
              what="no attempt while the breaker is open")
    assert health(hub)["last_error"].startswith("HTTP 503")  # type: ignore[union-attr]
    # the probe after the cool-down fails: open again, one more attempt only
    wait_until(lambda: sum(attempts(hub).values()) == 4, timeout=10, what="one probe")
    receiver.fail("/department")  # back
    wait_until(lambda: len(receiver.message_ids("/department")) == 3, timeout=20,
               what="every delivery once the probe got through",
               progress=lambda: (health(hub), attempts(hub)))
    assert sorted(receiver.message_ids("/department")) == sorted([first, *later])
    assert health(hub)["state"] == "closed"
    # 3 failures, 1 failed probe, then one success each: without the breaker the fast
    # test schedule (50-200 ms) would have spent dozens of attempts in these seconds
    assert sum(attempts(hub).values()) <= 3 + 1 + 3, attempts(hub)
