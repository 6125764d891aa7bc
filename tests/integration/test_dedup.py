"""The same document sent again never loses a recipient: duplicates, supplements and reused
DocumentIds over REST and SOAP, JSON and edXML, also when two hub processes race."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import zeep
from sqlalchemy import func, select

from hub.store.models import Delivery, Message
from security.audit_tables import AuditEvent
from tests.corpus_directory import CORPUS_KEYS, corpus_directory
from tests.soap_support import hub_fault, zeep_client
from tests.support import (
    COMMUNE,
    CORPUS,
    DEPARTMENT,
    DISTRICT,
    KEYS,
    LiveHub,
    Receiver,
    body,
    document,
    hue_directory,
    run_hub,
    wait_until,
)

pytestmark = pytest.mark.integration
H13, H17, A80 = "002.00.20.H13", "28.22.H17", "000.00.00.A80"


@pytest.fixture
def hub(make_settings, pg_url: str, redis_url: str, receiver: Receiver) -> Iterator[LiveHub]:
    settings = make_settings(database_url=pg_url, redis_url=redis_url, embedded_worker=True)
    with run_hub(settings, hue_directory(receiver.url)) as live:
        yield live


def post(hub: LiveHub, doc: dict[str, Any] | bytes, who: str = "province") -> httpx.Response:
    data = doc if isinstance(doc, bytes) else body(doc)
    return httpx.post(f"{hub.url}/api/v1/documents", content=data, timeout=30,
                      headers={"Authorization": f"Bearer {KEYS[who]}",
                               "Content-Type": "application/json"})


def count(hub: LiveHub, model: type) -> int:
    with hub.ctx.db.reading() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def pushed_all(hub: LiveHub) -> None:
    """Wait until every push delivery stored has been handed over (one POST each)."""
    def done() -> bool:
        with hub.ctx.db.reading() as session:
            return not session.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.mode == "push", Delivery.state != "delivered"))
    wait_until(done, what="push deliveries to finish")


def copies(receiver: Receiver) -> Counter[str]:
    """How many times each path (recipient system) received a package."""
    with receiver.lock:
        return Counter(r.path for r in receiver.received)


def deliveries_of(answer: dict[str, Any]) -> dict[str, str]:
    return {d["recipient"]: d["status"] for d in answer["deliveries"]}


def refusal_events(hub: LiveHub, code: str) -> list[dict[str, Any]]:
    assert hub.ctx.refusals is not None
    hub.ctx.refusals.flush(everything=True)
    with hub.ctx.db.reading() as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.event == "message.rejected")
                               ).scalars().all()
    return [d for d in (json.loads(r.detail) for r in rows) if d.get("code") == code]


# -- REST, JSON ------------------------------------------------------------------------------
def test_same_package_again_is_a_duplicate_and_nothing_is_delivered_twice(
        hub: LiveHub, receiver: Receiver) -> None:
    doc = document(201, to=(DEPARTMENT, COMMUNE))
    first = post(hub, doc)
    assert first.status_code == 202, first.text
    assert deliveries_of(first.json()) == {DEPARTMENT: "new", COMMUNE: "new"}
    again = post(hub, doc)
    # the same content as relayed: a trace header added, keys in another order
    relayed = {**dict(reversed(list(doc.items()))), "traceHeaderList": {"traceHeaders": [
        {"organId": "000.00.00.H57", "timestamp": "2026/11/27 10:00:00"}]}}
    relayed_answer = post(hub, relayed)
    for r in (again, relayed_answer):
        assert r.status_code == 200, r.text
        answer = r.json()
        assert (answer["status"], answer["id"]) == ("duplicate", first.json()["id"])
        assert sorted(answer["recipients"]) == sorted([DEPARTMENT, COMMUNE])
        assert deliveries_of(answer) == {DEPARTMENT: "already_sent", COMMUNE: "already_sent"}
    assert count(hub, Message) == 1
    pushed_all(hub)
    assert copies(receiver) == {"/department": 1, "/commune": 1}


def test_supplement_reaches_only_the_new_recipients(hub: LiveHub, receiver: Receiver) -> None:
    first = post(hub, document(202, to=(DEPARTMENT,)))
    assert first.status_code == 202, first.text
    first_id = first.json()["id"]
    supplement = document(202, to=(DEPARTMENT, COMMUNE, DISTRICT))
    second = post(hub, supplement)
    assert second.status_code == 202, second.text
    answer = second.json()
    assert answer["status"] == "accepted" and answer["id"] != first_id
    assert answer["supplement_to"] == first_id
    assert sorted(answer["recipients"]) == sorted([DEPARTMENT, COMMUNE, DISTRICT])
    assert deliveries_of(answer) == {DEPARTMENT: "already_sent", COMMUNE: "new",
                                     DISTRICT: "new"}
    # the supplement sent again: every recipient served already
    third = post(hub, supplement)
    assert third.status_code == 200 and third.json()["status"] == "duplicate"
    assert set(deliveries_of(third.json()).values()) == {"already_sent"}

    pushed_all(hub)
    assert copies(receiver) == {"/department": 1, "/commune": 1}
    # the new recipients get the supplement's own bytes, under its id
    assert receiver.message_ids("/commune") == [answer["id"]]
    assert receiver.message_ids("/department") == [first_id]
    inbox = httpx.get(f"{hub.url}/api/v1/inbox",
                      headers={"Authorization": f"Bearer {KEYS['district']}"}).json()["items"]
    assert [i["id"] for i in inbox] == [answer["id"]]
    with hub.ctx.db.reading() as session:
        rows = session.execute(select(Delivery.recipient_org, Delivery.message_id)).all()
    assert sorted(rows) == sorted([(DEPARTMENT, first_id), (COMMUNE, answer["id"]),
                                   (DISTRICT, answer["id"])])


def test_reused_document_id_with_other_content_is_refused(hub: LiveHub,
                                                          receiver: Receiver) -> None:
    first = post(hub, document(203, to=(DEPARTMENT,)))
    assert first.status_code == 202, first.text
    other = document(203, to=(DEPARTMENT, COMMUNE), subject="Một văn bản khác hẳn")
    refused = post(hub, other)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["code"] == "document_id_reused"
    assert first.json()["id"] in problem["detail"] and problem["detail_vi"]
    assert count(hub, Message) == 1 and count(hub, Delivery) == 1
    assert len(refusal_events(hub, "document_id_reused")) == 1
    pushed_all(hub)
    assert copies(receiver) == {"/department": 1}


# -- two hub processes at once ---------------------------------------------------------------
@pytest.fixture
def two_hubs(make_settings, pg_url: str, redis_url: str,
             receiver: Receiver) -> Iterator[tuple[LiveHub, LiveHub]]:
    settings = make_settings(database_url=pg_url, redis_url=redis_url, embedded_worker=True)
    with run_hub(settings, hue_directory(receiver.url)) as one, \
            run_hub(settings, hue_directory(receiver.url)) as two:
        yield one, two


def at_once(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(calls))
    out: list[httpx.Response | None] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        out[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(r is not None for r in out)
    return [r for r in out if r is not None]


def test_racing_processes_serve_every_recipient_exactly_once(
        two_hubs: tuple[LiveHub, LiveHub], receiver: Receiver) -> None:
    one, two = two_hubs
    rounds = range(300, 306)
    for n in rounds:
        doc = document(n, to=(DEPARTMENT, COMMUNE))
        a, b = at_once(lambda d=doc: post(one, d), lambda d=doc: post(two, d))
        assert sorted([a.status_code, b.status_code]) == [200, 202], (a.text, b.text)
        assert a.json()["id"] == b.json()["id"]
    for n in range(400, 406):
        original, supplement = (document(n, to=(DEPARTMENT,)),
                                document(n, to=(DEPARTMENT, COMMUNE)))
        a, b = at_once(lambda d=original: post(one, d), lambda d=supplement: post(two, d))
        assert a.status_code in (200, 202) and b.status_code in (200, 202), (a.text, b.text)
        news = [d["recipient"] for r in (a, b) for d in r.json()["deliveries"]
                if d["status"] == "new"]
        assert sorted(news) == sorted([DEPARTMENT, COMMUNE])  # each served by one answer
    pushed_all(one)
    assert copies(receiver) == {"/department": 12, "/commune": 12}
    with receiver.lock:
        documents = [json.loads(r.body)["documentId"] + r.path for r in receiver.received]
    assert len(set(documents)) == 24  # never the same document twice to one recipient


# -- SOAP, edXML -----------------------------------------------------------------------------
@pytest.fixture
def soap_hub(make_settings, pg_url: str, redis_url: str,
             receiver: Receiver) -> Iterator[LiveHub]:
    settings = make_settings(database_url=pg_url, redis_url=redis_url, embedded_worker=True)
    push = {system: {"mode": "push", "url": f"{receiver.url}/{system}", "format": "edxml"}
            for system in ("h17", "a80")}
    with run_hub(settings, corpus_directory(receive=push)) as live:
        yield live


def edoc_new(*, add_to: str | None = None, trace: bool = False, subject: str | None = None,
             ) -> bytes:
    raw = (CORPUS / "edoc_new.edxml").read_bytes()
    if add_to:
        to = f"<edXML:To><edXML:OrganId>{add_to}</edXML:OrganId></edXML:To>".encode()
        raw = raw.replace(b"</edXML:To>", b"</edXML:To>" + to, 1)
    if trace:
        hop = (b"<edXML:TraceHeader><edXML:OrganId>000.00.00.G22</edXML:OrganId>"
               b"<edXML:Timestamp>2026/12/01 08:00:00</edXML:Timestamp></edXML:TraceHeader>")
        raw = raw.replace(b"<edXML:TraceHeaderList>", b"<edXML:TraceHeaderList>" + hop, 1)
    if subject:
        start = raw.index(b"<edXML:Subject>") + len(b"<edXML:Subject>")
        raw = raw[:start] + subject.encode() + raw[raw.index(b"</edXML:Subject>"):]
    return raw


def soap_deliveries(receipt: Any) -> dict[str, str]:
    return {d.OrganId: d.Status for d in receipt.Deliveries.Delivery}


def test_soap_edxml_duplicate_supplement_and_reused_document_id(
        soap_hub: LiveHub, receiver: Receiver) -> None:
    h13 = zeep_client(soap_hub.url, "h13", CORPUS_KEYS["h13"])
    first = h13.service.SendDocument(PackageBase64=edoc_new())
    assert first.Status == "accepted" and soap_deliveries(first) == {H17: "new"}

    again = h13.service.SendDocument(PackageBase64=edoc_new(trace=True))
    assert (again.Status, again.MessageId) == ("duplicate", first.MessageId)
    assert again.Recipients.OrganId == [H17]
    assert soap_deliveries(again) == {H17: "already_sent"}

    supplement = h13.service.SendDocument(PackageBase64=edoc_new(add_to=A80, trace=True))
    assert supplement.Status == "accepted" and supplement.MessageId != first.MessageId
    assert supplement.SupplementTo == first.MessageId
    assert supplement.Recipients.OrganId == [H17, A80]
    assert soap_deliveries(supplement) == {H17: "already_sent", A80: "new"}

    with pytest.raises(zeep.exceptions.Fault) as fault:
        h13.service.SendDocument(PackageBase64=edoc_new(add_to=A80, subject="Văn bản khác"))
    detail = hub_fault(fault.value)
    assert detail["Code"] == "document_id_reused"
    assert first.MessageId in str(detail["Message"]) and detail["MessageVi"]
    assert len(refusal_events(soap_hub, "document_id_reused")) == 1

    assert count(soap_hub, Message) == 2
    pushed_all(soap_hub)
    assert copies(receiver) == {"/h17": 1, "/a80": 1}
    # the new recipient gets the supplement's bytes as received
    with receiver.lock:
        a80 = [r.body for r in receiver.received if r.path == "/a80"]
    assert a80 == [edoc_new(add_to=A80, trace=True)]


def test_soap_json_supplement(hub: LiveHub, receiver: Receiver) -> None:
    client = zeep_client(hub.url, "province", KEYS["province"])

    def send(doc: dict[str, Any]) -> Any:
        return client.service.SendDocument(PackageBase64=body(doc),
                                           MediaType="application/json")

    first = send(document(204, to=(DEPARTMENT,)))
    supplement = send(document(204, to=(DEPARTMENT, COMMUNE)))
    assert supplement.SupplementTo == first.MessageId
    assert soap_deliveries(supplement) == {DEPARTMENT: "already_sent", COMMUNE: "new"}
    pushed_all(hub)
    assert copies(receiver) == {"/department": 1, "/commune": 1}
