"""A document goes in over REST and reaches every recipient, on PostgreSQL and Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from hub.store.models import Delivery, Message, Outbox
from security.audit import verify
from tests.support import (
    COMMUNE,
    DEPARTMENT,
    DISTRICT,
    KEYS,
    PROVINCE,
    LiveHub,
    Receiver,
    body,
    document,
    holds_for,
    hue_directory,
    run_hub,
    status,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture(params=["postgres+redis"])
def hub(request: pytest.FixtureRequest, make_settings, pg_url: str, redis_url: str,
        receiver: Receiver) -> Iterator[LiveHub]:
    settings = make_settings(database_url=pg_url, redis_url=redis_url, embedded_worker=True)
    with run_hub(settings, hue_directory(receiver.url)) as live:
        yield live


def auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[who]}", "Content-Type": "application/json"}


def view(hub: LiveHub, message_id: str, who: str = "province") -> dict:
    r = httpx.get(f"{hub.url}/api/v1/messages/{message_id}", headers=auth(who))
    assert r.status_code == 200, r.text
    return r.json()


def pushes_finished(hub: LiveHub, message_id: str) -> bool:
    states = {d["recipient"]: d["state"] for d in view(hub, message_id)["deliveries"]}
    return states[DEPARTMENT] == states[COMMUNE] == "delivered" and outbox_rows(hub) == 0


def outbox_rows(hub: LiveHub) -> int:
    with hub.ctx.db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Outbox)) or 0)


# several sweeper intervals (FAST_DELIVERY: 0.5 s): long enough for a stray re-enqueue to show
NO_SECOND_COPY_WITHIN_S = 3.0


def test_document_reaches_department_district_and_commune_exactly_once(
    hub: LiveHub, receiver: Receiver
) -> None:
    r = httpx.post(f"{hub.url}/api/v1/documents", content=body(document(101)),
                   headers=auth("province"))
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["status"] == "accepted"
    assert sorted(accepted["recipients"]) == sorted([DEPARTMENT, DISTRICT, COMMUNE])
    msg_id = accepted["id"]

    wait_until(lambda: receiver.at("/department") and receiver.at("/commune"),
               what="push deliveries")
    wait_until(lambda: pushes_finished(hub, msg_id), what="the hub to record both pushes")
    # a deliberate negative check: nothing is owed any more, so no second copy may arrive
    holds_for(lambda: len(receiver.at("/department")) == len(receiver.at("/commune")) == 1,
              seconds=NO_SECOND_COPY_WITHIN_S, what="one copy per pushing recipient")
    for path in ("/department", "/commune"):
        got = receiver.at(path)
        assert len(got) == 1, f"{path} received {len(got)} copies"
        assert got[0].headers["X-Lienthong-Message-Id"] == msg_id
        assert json.loads(got[0].body)["documentId"] == document(101)["documentId"]

    # the pulling district finds it in its inbox, fetches it and confirms receipt
    inbox = httpx.get(f"{hub.url}/api/v1/inbox", headers=auth("district")).json()["items"]
    assert [i["id"] for i in inbox] == [msg_id]
    fetched = httpx.get(f"{hub.url}/api/v1/inbox/{msg_id}", headers=auth("district"))
    assert fetched.status_code == 200
    assert json.loads(fetched.content)["subject"] == document(101)["subject"]
    ack = httpx.post(f"{hub.url}/api/v1/inbox/{msg_id}/ack", json={"result": "done"},
                     headers=auth("district"))
    assert ack.json()["state"] == "delivered"
    assert httpx.get(f"{hub.url}/api/v1/inbox", headers=auth("district")).json()["items"] == []

    record = view(hub, msg_id)
    assert record["state"] == "delivered"
    assert {d["recipient"]: d["state"] for d in record["deliveries"]} == {
        DEPARTMENT: "delivered", DISTRICT: "delivered", COMMUNE: "delivered"}
    events = [t["event"] for t in record["trace"] if t["source"] == "hub"]
    assert events[:2] == ["message.received", "message.routed"]
    assert events.count("delivery.succeeded") == 2 and "message.acknowledged" in events

    # the department answers with status 01; it goes back to the province
    st = httpx.post(f"{hub.url}/api/v1/statuses",
                    content=body(status(document(101)["documentId"], DEPARTMENT, PROVINCE)),
                    headers=auth("department"))
    assert st.status_code == 202, st.text
    wait_until(lambda: receiver.at("/province"), what="status delivered to the province")
    assert json.loads(receiver.at("/province")[0].body)["statusCode"] == "01"
    history = view(hub, msg_id)["status_history"]
    assert [(h["status_code"], h["from"]) for h in history] == [("01", DEPARTMENT)]

    with hub.ctx.db.reading() as session:
        assert verify(session).ok


def test_receiver_failing_three_times_then_recovering_gets_the_document(
    hub: LiveHub, receiver: Receiver
) -> None:
    receiver.fail("/department", 503, 500, 502)
    r = httpx.post(f"{hub.url}/api/v1/documents", content=body(document(102, to=(DEPARTMENT,))),
                   headers=auth("province"))
    msg_id = r.json()["id"]
    wait_until(lambda: receiver.at("/department"), what="delivery after three failures")
    wait_until(lambda: view(hub, msg_id)["state"] == "delivered", what="delivered state")
    delivery = view(hub, msg_id)["deliveries"][0]
    assert [a["outcome"] for a in delivery["attempts"]] == [
        "transient", "transient", "transient", "ok"]
    assert len(receiver.at("/department")) == 1


def test_receiver_refusing_for_good_becomes_a_dead_letter(
    hub: LiveHub, receiver: Receiver
) -> None:
    receiver.fail("/department", 400)
    r = httpx.post(f"{hub.url}/api/v1/documents", content=body(document(103, to=(DEPARTMENT,))),
                   headers=auth("province"))
    msg_id = r.json()["id"]
    wait_until(lambda: view(hub, msg_id)["state"] == "failed", what="dead letter")
    delivery = view(hub, msg_id)["deliveries"][0]
    assert delivery["dead_letter"] is True
    # the receiver's own error is shown to that receiver, not to the sender
    assert delivery["last_error"] is None
    assert "HTTP 400" in view(hub, msg_id, "department")["deliveries"][0]["last_error"]


def test_duplicate_submission_is_not_stored_twice(hub: LiveHub, receiver: Receiver) -> None:
    doc = body(document(104, to=(DEPARTMENT,)))
    first = httpx.post(f"{hub.url}/api/v1/documents", content=doc, headers=auth("province"))
    second = httpx.post(f"{hub.url}/api/v1/documents", content=doc, headers=auth("province"))
    assert first.status_code == 202 and second.status_code == 200
    assert second.json()["status"] == "duplicate"
    assert second.json()["id"] == first.json()["id"]
    # the same document as an update (BussinessDocType 2) is a new message
    update = document(104, to=(DEPARTMENT,), traceHeaderList={
        "bussiness": {"bussinessDocType": "2", "bussinessDocReason": "Cập nhật"}})
    third = httpx.post(f"{hub.url}/api/v1/documents", content=body(update),
                       headers=auth("province"))
    assert third.status_code == 202 and third.json()["id"] != first.json()["id"]
    wait_until(lambda: len(receiver.at("/department")) == 2, what="two deliveries")
    with hub.ctx.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 2
        assert session.scalar(select(func.count()).select_from(Delivery)) == 2


def test_status_for_an_unknown_document_is_refused(hub: LiveHub) -> None:
    r = httpx.post(f"{hub.url}/api/v1/statuses",
                   content=body(status("000.00.00.H57,2026/11/27,999/QĐ-UBND", DEPARTMENT,
                                       PROVINCE)),
                   headers=auth("department"))
    assert r.status_code == 422
    assert r.json()["code"] == "unknown_document"
    assert r.json()["errors"][0]["path"] == "/responseFor/documentId"
    with hub.ctx.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_readiness_reports_database_and_broker(hub: LiveHub) -> None:
    r = httpx.get(f"{hub.url}/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "database": True, "broker": True}
    assert httpx.get(f"{hub.url}/healthz").json() == {"status": "ok"}


def test_the_outbox_holds_each_push_until_it_is_delivered_then_empties(
    hub: LiveHub, receiver: Receiver
) -> None:
    receiver.gate.clear()  # the receivers take the requests but do not answer yet
    ids = []
    for number in (106, 107, 108):
        r = httpx.post(f"{hub.url}/api/v1/documents", content=body(document(number)),
                       headers=auth("province"))
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    # one row per push delivery (department and commune); the pulling district has none
    assert outbox_rows(hub) == 2 * len(ids)
    receiver.gate.set()
    wait_until(lambda: all(pushes_finished(hub, i) for i in ids), progress=lambda: outbox_rows(hub),
               what="every push delivered and the outbox empty")
    assert sorted(receiver.message_ids("/department")) == sorted(ids)
    assert sorted(receiver.message_ids("/commune")) == sorted(ids)
    assert outbox_rows(hub) == 0


def test_metrics_count_accepted_rejected_and_deliveries(hub: LiveHub, receiver: Receiver) -> None:
    httpx.post(f"{hub.url}/api/v1/documents", content=body(document(105, to=(DEPARTMENT,))),
               headers=auth("province"))
    httpx.post(f"{hub.url}/api/v1/documents", content=b"{", headers=auth("province"))
    wait_until(lambda: receiver.at("/department"), what="delivery")
    wait_until(lambda: 'lienthong_deliveries{state="delivered"} 1.0'
               in httpx.get(f"{hub.url}/metrics").text, what="delivered gauge")
    text = httpx.get(f"{hub.url}/metrics").text
    assert 'lienthong_messages_accepted_total{channel="rest",form="json",kind="document"} 1.0' \
        in text
    assert 'lienthong_messages_rejected_total{channel="rest",code="json_malformed"} 1.0' in text
    assert 'lienthong_delivery_attempts_total{adapter="rest",outcome="delivered"} 1.0' in text
    assert "lienthong_outbox_rows 0.0" in text
