"""Dead letters over the wire: a receiver down until its deliveries give up (under its own
short retry schedule), listed and paged over REST, replayed by an operator once it is back,
delivered once each, and the audit trail names who replayed them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings
from security import people
from tests.support import (
    COMMUNE,
    DEPARTMENT,
    KEYS,
    LiveHub,
    Receiver,
    body,
    document,
    events_after,
    hue_directory_data,
    last_seq,
    run_hub,
    run_receiver,
    wait_until,
    write_directory,
)

pytestmark = pytest.mark.integration

# the department's own schedule: 3 attempts, 50 ms apart; everyone else keeps the hub's day
SHORT = {"schedule": ["50ms", "50ms"]}


@pytest.fixture
def world(pg_url: str, tmp_path: Path) -> Iterator[tuple[LiveHub, Receiver, dict[str, str]]]:
    file = tmp_path / "directory.yaml"
    with run_receiver() as receiver:
        data = hue_directory_data(receiver.url)
        for system in data["systems"]:
            if system["id"] == "department":
                system["receive"]["retry"] = SHORT
        write_directory(file, data)
        settings = Settings(database_url=pg_url, directory_file=file,
                            rate_limits={"enabled": False},
                            delivery={"sweep_interval_s": 0.5, "lease_s": 5.0, "timeout_s": 5,
                                      # the receiver's breaker opens too: a short cool-down
                                      # lets its probes spend the last attempts quickly
                                      "breaker_cooldown_s": 0.2})
        assert settings.delivery.retry.total_s() == 24 * 3600  # the hub's default: a day
        with run_hub(settings, None) as hub:
            with hub.ctx.db.transaction() as session:
                tokens = {role: people.add(session, role[:3] + "-dl", role, actor="cli:test",
                                           days=1).token
                          for role in ("operator", "auditor")}
            yield hub, receiver, tokens


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def send(hub: LiveHub, number: int, to: tuple[str, ...]) -> str:
    r = httpx.post(f"{hub.url}/api/v1/documents", content=body(document(number, to=to)),
                   headers={"Authorization": f"Bearer {KEYS['province']}",
                            "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def dead(hub: LiveHub, token: str, **params: Any) -> dict[str, Any]:
    r = httpx.get(f"{hub.url}/api/v1/deadletters", params=params, headers=auth(token),
                  timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_dead_letters_are_listed_and_replayed_over_rest_once_the_receiver_is_back(
    world: tuple[LiveHub, Receiver, dict[str, str]]
) -> None:
    hub, receiver, tokens = world
    operator = tokens["operator"]
    receiver.fail("/department", *[503] * 9)  # down: 3 documents x 3 attempts
    messages = [send(hub, n, (DEPARTMENT, COMMUNE)) for n in (31, 32, 33)]
    wait_until(lambda: len(dead(hub, operator)["items"]) == 3, timeout=30,
               what="three dead letters under the department's short schedule")
    assert sorted(receiver.message_ids("/commune")) == sorted(messages)  # others unaffected

    listed = dead(hub, operator, system="department")["items"]
    assert {d["message_id"] for d in listed} == set(messages)
    assert all(d["recipient"] == DEPARTMENT and d["attempts"] == 3 for d in listed)
    assert all("503" in (d["last_error"] or "") for d in listed)
    assert dead(hub, operator, system="commune")["items"] == []
    assert [d["message_id"] for d in dead(hub, operator, message=messages[1])["items"]] == [
        messages[1]]
    # cursor pages: two of one item, then the last one, nothing twice
    first = dead(hub, operator, limit=2)
    second = dead(hub, operator, limit=2, cursor=first["next_cursor"])
    assert len(first["items"]) == 2 and len(second["items"]) == 1
    assert second["next_cursor"] is None
    assert {d["id"] for d in first["items"] + second["items"]} == {d["id"] for d in listed}
    assert httpx.get(f"{hub.url}/api/v1/deadletters", headers=auth(tokens["auditor"]),
                     timeout=30).status_code == 403

    # the receiver is back (its failure plan is used up): replay one by id, then the rest
    before = last_seq(hub)
    one = next(d for d in listed if d["message_id"] == messages[0])
    r = httpx.post(f"{hub.url}/api/v1/deadletters/replay", headers=auth(operator), timeout=30,
                   json={"ids": [one["id"], "no-such-delivery"]})
    assert r.status_code == 200, r.text
    assert r.json() == {"replayed": 1, "results": [
        {"id": one["id"], "result": "replayed"},
        {"id": "no-such-delivery", "result": "not_found"}]}
    wait_until(lambda: messages[0] in receiver.message_ids("/department"),
               what="the replayed delivery")
    again = httpx.post(f"{hub.url}/api/v1/deadletters/replay", headers=auth(operator),
                       timeout=30, json={"ids": [one["id"]]})
    assert again.json()["results"] == [{"id": one["id"], "result": "not_a_dead_letter"}]

    rest = httpx.post(f"{hub.url}/api/v1/deadletters/replay", headers=auth(operator),
                      timeout=30, json={"all": True, "system": "department"})
    assert rest.status_code == 200 and rest.json()["replayed"] == 2, rest.text
    wait_until(lambda: sorted(receiver.message_ids("/department")) == sorted(messages),
               what="every replayed dead letter delivered")
    assert dead(hub, operator)["items"] == []
    # delivered once each: no second copy turns up
    wait_until(lambda: all(d["state"] == "delivered" for m in messages
                           for d in _view(hub, operator, m)["deliveries"]),
               what="every delivery recorded delivered")
    assert sorted(receiver.message_ids("/department")) == sorted(messages)

    replays = [e for e in events_after(hub, before) if e["event"] == "delivery.replayed"]
    assert sorted(e["message_id"] for e in replays) == sorted(messages)
    assert {e["actor"] for e in replays} == {"person:ope-dl"}


def test_replay_asks_for_ids_or_all(world: tuple[LiveHub, Receiver, dict[str, str]]) -> None:
    hub, _, tokens = world
    for wrong in ({}, {"ids": ["x"], "all": True}, {"ids": []}):
        r = httpx.post(f"{hub.url}/api/v1/deadletters/replay", json=wrong,
                       headers=auth(tokens["operator"]), timeout=30)
        assert (r.status_code, r.json()["code"]) == (422, "request_invalid"), wrong
    r = httpx.get(f"{hub.url}/api/v1/deadletters", params={"cursor": "nonsense"},
                  headers=auth(tokens["operator"]), timeout=30)
    assert (r.status_code, r.json()["code"]) == (400, "invalid_cursor")


def _view(hub: LiveHub, token: str, message_id: str) -> dict[str, Any]:
    return dict(httpx.get(f"{hub.url}/api/v1/messages/{message_id}", headers=auth(token),
                          timeout=30).json())
