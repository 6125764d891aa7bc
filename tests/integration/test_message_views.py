"""What a reader of a message sees, over REST and SOAP: its sender and co-recipients see
every recipient's delivery state, never another recipient's push URL, its server's error
text or the worker (host and process id) that tried; people see all of it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from lxml import etree

from core.settings import Settings
from hub.delivery.worker import WORKER_NAME
from security import people
from tests import services
from tests.soap_support import LT, envelope, headers, security
from tests.support import (
    COMMUNE,
    DEPARTMENT,
    DISTRICT,
    KEYS,
    LiveHub,
    Receiver,
    body,
    document,
    hue_directory,
    run_hub,
    run_receiver,
    wait_until,
)

pytestmark = pytest.mark.integration
FAST = {"min_backoff_ms": 50, "max_backoff_ms": 100, "max_attempts": 3, "timeout_s": 5.0,
        "sweep_interval_s": 0.5, "lease_s": 5.0}
RECIPIENTS = {DEPARTMENT, DISTRICT, COMMUNE}


@dataclass
class World:
    hub: LiveHub
    receiver: Receiver
    tokens: dict[str, str]
    message_id: str

    @property
    def failing_url(self) -> str:
        return f"{self.receiver.url}/department"


def rest_view(world: World, who: str) -> tuple[dict, str]:
    secret = world.tokens.get(who) or KEYS[who]
    r = httpx.get(f"{world.hub.url}/api/v1/messages/{world.message_id}",
                  headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert r.status_code == 200, (who, r.text)
    return r.json(), r.text


@pytest.fixture(scope="module")
def world(pg_server: str | None) -> Iterator[World]:
    server = services.require(pg_server, "PostgreSQL")
    with services.fresh_database(server, "lt_views") as url:
        settings = Settings(database_url=url, broker_namespace=f"lt-views-{url[-12:]}",
                            delivery=FAST)
        with run_receiver() as receiver, run_hub(settings, hue_directory(receiver.url)) as hub:
            # the department's server fails every time, quoting something of its own
            receiver.fail("/department", *[500] * 10)
            with hub.ctx.db.transaction() as session:
                tokens = {role: people.add(session, role, role, actor="cli:test", days=5).token
                          for role in ("auditor", "operator", "admin")}
            r = httpx.post(f"{hub.url}/api/v1/documents", content=body(document(501)),
                           headers={"Authorization": f"Bearer {KEYS['province']}",
                                    "Content-Type": "application/json"}, timeout=30)
            assert r.status_code == 202, r.text
            w = World(hub, receiver, tokens, r.json()["id"])

            def settled() -> bool:
                states = {d["recipient"]: d["state"] for d in rest_view(w, "operator")[0]
                          ["deliveries"]}
                return states.get(COMMUNE) == "delivered" and states.get(DEPARTMENT) == "dead"

            wait_until(settled, timeout=30, what="the commune delivered, the department dead")
            yield w


def by_recipient(view: dict) -> dict[str, dict]:
    return {d["recipient"]: d for d in view["deliveries"]}


def test_people_see_everything(world: World) -> None:
    for who in ("operator", "auditor", "admin"):
        view, text = rest_view(world, who)
        assert view["view"] == "full"
        department = by_recipient(view)[DEPARTMENT]
        assert world.failing_url in department["last_error"]
        assert "simulated" in department["last_error"]  # the receiver's own words
        assert {a["worker"] for a in department["attempts"]} == {WORKER_NAME}
        assert all(world.failing_url in a["detail"] for a in department["attempts"])
        assert WORKER_NAME in {hop.get("detail", {}).get("worker") for hop in view["trace"]}


@pytest.mark.parametrize("who", ["province", "district", "commune"])
def test_the_sender_and_co_recipients_see_states_not_others_errors_or_workers(
    world: World, who: str
) -> None:
    view, text = rest_view(world, who)
    assert view["view"] == "participant"
    deliveries = by_recipient(view)
    assert set(deliveries) == RECIPIENTS
    assert deliveries[DEPARTMENT]["state"] == "dead" and deliveries[DEPARTMENT]["dead_letter"]
    assert deliveries[COMMUNE]["state"] == "delivered"
    assert len(deliveries[DEPARTMENT]["attempts"]) == FAST["max_attempts"]
    assert deliveries[DEPARTMENT]["last_error"] is None
    assert all(a["detail"] is None and a["worker"] is None
               for a in deliveries[DEPARTMENT]["attempts"])
    for secret in (world.failing_url, "/department", "simulated", WORKER_NAME):
        assert secret not in text, secret
    actors = {hop.get("actor") for hop in view["trace"] if hop["source"] == "hub"}
    assert actors <= {"province", "hub"}, actors


def test_a_recipient_sees_its_own_errors_but_still_not_the_worker(world: World) -> None:
    view, text = rest_view(world, "department")
    own = by_recipient(view)[DEPARTMENT]
    assert world.failing_url in own["last_error"] and "simulated" in own["last_error"]
    assert all(a["detail"] and a["worker"] is None for a in own["attempts"])
    assert by_recipient(view)[COMMUNE]["attempts"][0]["detail"] is None
    assert WORKER_NAME not in text


def test_a_system_outside_the_message_does_not_see_it(world: World) -> None:
    r = httpx.get(f"{world.hub.url}/api/v1/messages/{world.message_id}",
                  headers={"Authorization": f"Bearer {KEYS['other']}"}, timeout=30)
    assert (r.status_code, r.json()["code"]) == (404, "message_not_found")


def soap_trace(world: World, who: str) -> tuple[etree._Element, str]:
    call = f"<lt:GetTrace><lt:MessageId>{world.message_id}</lt:MessageId></lt:GetTrace>"
    r = httpx.post(f"{world.hub.url}/soap", content=envelope(call, security(who, KEYS[who]), "1.1"),
                   headers=headers("1.1", "GetTrace"), timeout=30)
    assert r.status_code == 200, r.text
    root = etree.fromstring(r.content, etree.XMLParser(resolve_entities=False, no_network=True))
    response = root.find(f".//{{{LT}}}GetTraceResponse")
    assert response is not None, r.text
    return response, r.text


def soap_deliveries(response: etree._Element) -> dict[str, etree._Element]:
    return {d.findtext(f"{{{LT}}}Recipient") or "": d
            for d in response.iterfind(f"{{{LT}}}Delivery")}


@pytest.mark.parametrize("who", ["province", "district", "commune"])
def test_get_trace_gives_co_recipients_states_not_errors_or_workers(
    world: World, who: str
) -> None:
    response, text = soap_trace(world, who)
    deliveries = soap_deliveries(response)
    assert set(deliveries) == RECIPIENTS
    assert deliveries[DEPARTMENT].findtext(f"{{{LT}}}State") == "dead"
    assert deliveries[DEPARTMENT].find(f"{{{LT}}}LastError") is None
    for secret in (world.failing_url, "/department", "simulated", WORKER_NAME):
        assert secret not in text, secret


def test_get_trace_gives_a_recipient_its_own_error(world: World) -> None:
    response, text = soap_trace(world, "department")
    own = soap_deliveries(response)[DEPARTMENT].findtext(f"{{{LT}}}LastError") or ""
    assert world.failing_url in own and "simulated" in own
    assert WORKER_NAME not in text


def test_the_full_view_is_what_the_participant_view_hides(world: World) -> None:
    # the same message, side by side: only the hidden fields differ
    full, _ = rest_view(world, "operator")
    part, _ = rest_view(world, "district")

    def shape(view: dict) -> str:
        stripped = [{k: v for k, v in d.items() if k not in ("last_error", "attempts")}
                    for d in view["deliveries"]]
        return json.dumps([stripped, view["state"], view["sender"], view["status_history"]])

    assert shape(full) == shape(part)
