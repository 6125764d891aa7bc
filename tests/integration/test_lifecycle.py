"""The document life cycle over the wire: updates, replacements and recalls reach every
recipient of the original, linked to it, never before that recipient's original; answers
go back to the sender; a recipient's statuses keep their order. REST and SOAP, JSON and
edXML, real PostgreSQL and Redis."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy import update as update_

from hub.deadletters import replay
from hub.store.models import Delivery
from tests.corpus_directory import CORPUS_KEYS, corpus_directory
from tests.soap_support import zeep_client
from tests.support import (
    COMMUNE,
    CORPUS,
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
G22, H41, H14 = "000.00.00.G22", "000.00.00.H41", "000.00.00.H14"


@pytest.fixture
def hub(make_settings, pg_url: str, redis_url: str, receiver: Receiver) -> Iterator[LiveHub]:
    # enough attempts that a receiver down for a while is not dead-lettered meanwhile
    settings = make_settings(database_url=pg_url, redis_url=redis_url, embedded_worker=True,
                             delivery={"max_attempts": 100})
    with run_hub(settings, hue_directory(receiver.url)) as live:
        yield live


def post(hub: LiveHub, what: str, package: dict[str, Any], who: str = "province"
         ) -> httpx.Response:
    return httpx.post(f"{hub.url}/api/v1/{what}", content=body(package), timeout=30,
                      headers={"Authorization": f"Bearer {KEYS[who]}",
                               "Content-Type": "application/json"})


def accepted(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


def change(number: int, doc_type: str, to: tuple[str, ...], **over: Any) -> dict[str, Any]:
    """An update (2), revocation (1) or replacement (3) of document `number`."""
    return document(number, to=to, traceHeaderList={"bussiness": {
        "bussinessDocType": doc_type, "bussinessDocReason": "Cập nhật văn bản"}}, **over)


def view(hub: LiveHub, message_id: str, who: str = "province") -> dict[str, Any]:
    r = httpx.get(f"{hub.url}/api/v1/messages/{message_id}",
                  headers={"Authorization": f"Bearer {KEYS[who]}"})
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def inbox(hub: LiveHub, who: str) -> list[str]:
    r = httpx.get(f"{hub.url}/api/v1/inbox", headers={"Authorization": f"Bearer {KEYS[who]}"})
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]]


def ack(hub: LiveHub, who: str, message_id: str) -> None:
    r = httpx.post(f"{hub.url}/api/v1/inbox/{message_id}/ack", json={"result": "done"},
                   headers={"Authorization": f"Bearer {KEYS[who]}"})
    assert r.status_code == 200, r.text


def arrive(receiver: Receiver, path: str, count: int) -> list[str]:
    """The hub message ids `path` received, in arrival order, once there are `count`."""
    wait_until(lambda: len(receiver.message_ids(path)) >= count,
               what=f"{count} packages at {path}", progress=lambda: receiver.message_ids(path))
    return receiver.message_ids(path)


def delivery_of(hub: LiveHub, message_id: str, recipient: str) -> Delivery:
    with hub.ctx.db.reading() as session:
        return session.execute(select(Delivery).where(
            Delivery.message_id == message_id, Delivery.recipient_org == recipient)).scalar_one()


# -- REST, JSON ------------------------------------------------------------------------------
def test_an_update_listing_one_unit_reaches_every_recipient_of_the_original_linked(
        hub: LiveHub, receiver: Receiver) -> None:
    original = accepted(post(hub, "documents", document(501, to=(DEPARTMENT, COMMUNE))))
    # the original's supplement to the pulling district: one of its messages too
    supplement = accepted(post(hub, "documents",
                               document(501, to=(DEPARTMENT, COMMUNE, DISTRICT))))
    assert supplement["supplement_to"] == original["id"]

    update = accepted(post(hub, "documents", change(501, "2", (DEPARTMENT,),
                                                    subject="Quyết định 501 (cập nhật)")))
    assert update["original"] == original["id"]
    assert sorted(update["recipients"]) == sorted([DEPARTMENT, COMMUNE, DISTRICT])
    assert {d["status"] for d in update["deliveries"]} == {"new"}
    # the same update again is a duplicate; another update is not a reused DocumentId
    again = post(hub, "documents", change(501, "2", (DEPARTMENT,),
                                          subject="Quyết định 501 (cập nhật)"))
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert again.json()["id"] == update["id"]
    second = accepted(post(hub, "documents", change(501, "2", (DEPARTMENT,),
                                                    subject="Quyết định 501 (cập nhật lần 2)")))
    assert second["original"] == original["id"] and second["id"] != update["id"]

    order = [original["id"], update["id"], second["id"]]
    assert arrive(receiver, "/department", 3) == order
    assert arrive(receiver, "/commune", 3) == order
    # the pulling district sees each only after it took the one before
    assert inbox(hub, "district") == [supplement["id"]]
    early = httpx.get(f"{hub.url}/api/v1/inbox/{update['id']}",
                      headers={"Authorization": f"Bearer {KEYS['district']}"})
    assert early.status_code == 404 and early.json()["code"] == "inbox_item_not_found"
    ack(hub, "district", supplement["id"])
    assert inbox(hub, "district") == [update["id"]]
    ack(hub, "district", update["id"])
    assert inbox(hub, "district") == [second["id"]]

    record = view(hub, original["id"])
    assert [(c["id"], c["business_doc_type"]) for c in record["changes"]] == [
        (update["id"], "2"), (second["id"], "2")]
    assert view(hub, update["id"])["original"] == original["id"]
    # a recipient reads the link too
    assert view(hub, update["id"], who="commune")["original"] == original["id"]


def test_recalls_reach_every_recipient_and_the_answers_go_back_to_the_sender(
        hub: LiveHub, receiver: Receiver) -> None:
    original = accepted(post(hub, "documents", document(502, to=(DEPARTMENT, COMMUNE))))
    doc_id = original["document_id"]
    revoke = accepted(post(hub, "documents", change(502, "1", (COMMUNE,))))
    assert revoke["original"] == original["id"]
    assert sorted(revoke["recipients"]) == sorted([DEPARTMENT, COMMUNE])
    # the sender's recall (13) names one recipient; every recipient is told
    recall = accepted(post(hub, "statuses", status(doc_id, PROVINCE, DEPARTMENT, "13")))
    assert sorted(recall["recipients"]) == sorted([DEPARTMENT, COMMUNE])
    assert recall["original"] == original["id"]
    order = [original["id"], revoke["id"], recall["id"]]
    assert arrive(receiver, "/department", 3) == order
    assert arrive(receiver, "/commune", 3) == order

    agree = accepted(post(hub, "statuses", status(doc_id, DEPARTMENT, PROVINCE, "15"),
                          who="department"))
    refuse = accepted(post(hub, "statuses", status(doc_id, COMMUNE, PROVINCE, "16"),
                           who="commune"))
    assert agree["recipients"] == [PROVINCE] and refuse["recipients"] == [PROVINCE]
    assert sorted(arrive(receiver, "/province", 2)) == sorted([agree["id"], refuse["id"]])

    record = view(hub, original["id"])
    assert [c["id"] for c in record["changes"]] == [revoke["id"], recall["id"]]
    assert [(s["status_code"], s["from"]) for s in record["status_history"]] == [
        ("13", PROVINCE), ("15", DEPARTMENT), ("16", COMMUNE)]


def test_statuses_reach_the_sender_in_the_order_they_were_sent(
        hub: LiveHub, receiver: Receiver) -> None:
    original = accepted(post(hub, "documents", document(503, to=(DEPARTMENT,))))
    arrive(receiver, "/department", 1)
    # the sender's system is down while the recipient sends 01-06: 01 is retried, the
    # others wait behind it without spending attempts
    receiver.fail("/province", *([503] * 100_000))
    sent = []
    for code in ("01", "02", "03", "04", "05", "06"):
        answer = accepted(post(hub, "statuses", status(original["document_id"], DEPARTMENT,
                                                       PROVINCE, code), who="department"))
        sent.append(answer["id"])
    wait_until(lambda: delivery_of(hub, sent[0], PROVINCE).attempts >= 3,
               what="01 to be retried")
    assert [(delivery_of(hub, i, PROVINCE).state, delivery_of(hub, i, PROVINCE).attempts)
            for i in sent[1:]] == [("waiting", 0)] * 5
    receiver.fail("/province")  # back
    assert arrive(receiver, "/province", 6) == sent
    assert [s["status_code"] for s in view(hub, original["id"])["status_history"]] == [
        "01", "02", "03", "04", "05", "06"]


def test_an_update_waits_while_a_receiver_is_down_and_follows_its_original(
        hub: LiveHub, receiver: Receiver) -> None:
    receiver.fail("/commune", *([503] * 100_000))  # the commune's system is down
    original = accepted(post(hub, "documents", document(504, to=(DEPARTMENT, COMMUNE))))
    update = accepted(post(hub, "documents", change(504, "2", (DEPARTMENT,))))
    assert arrive(receiver, "/department", 2) == [original["id"], update["id"]]

    held = delivery_of(hub, update["id"], COMMUNE)
    assert held.state == "waiting" and held.attempts == 0
    assert held.after_delivery_id == delivery_of(hub, original["id"], COMMUNE).id
    # while the original is retried, the update spends no attempt and is not sent
    holds_for(lambda: delivery_of(hub, update["id"], COMMUNE).attempts == 0
              and not receiver.message_ids("/commune"), 1.0, what="the update held back")
    assert delivery_of(hub, original["id"], COMMUNE).attempts > 1

    receiver.fail("/commune")  # back
    assert arrive(receiver, "/commune", 2) == [original["id"], update["id"]]
    record = view(hub, update["id"])
    commune = next(d for d in record["deliveries"] if d["recipient"] == COMMUNE)
    assert commune["after"] == delivery_of(hub, original["id"], COMMUNE).id
    assert [a["outcome"] for a in commune["attempts"]] == ["ok"]


def test_a_dead_original_holds_its_update_until_the_dead_letter_is_replayed(
        hub: LiveHub, receiver: Receiver) -> None:
    receiver.fail("/commune", 400)  # refused for good: a dead letter at once
    original = accepted(post(hub, "documents", document(505, to=(COMMUNE,))))
    wait_until(lambda: delivery_of(hub, original["id"], COMMUNE).state == "dead",
               what="the original to be a dead letter")
    update = accepted(post(hub, "documents", change(505, "2", (COMMUNE,))))
    holds_for(lambda: delivery_of(hub, update["id"], COMMUNE).state == "waiting", 1.0,
              what="the update held behind the dead original")
    assert not receiver.message_ids("/commune")

    replay(hub.ctx, delivery_of(hub, original["id"], COMMUNE).id, "operator")
    assert arrive(receiver, "/commune", 2) == [original["id"], update["id"]]


def test_an_update_whose_original_finished_unseen_is_released_by_the_sweeper(
        hub: LiveHub) -> None:
    original = accepted(post(hub, "documents", document(509, to=(DISTRICT,))))
    update = accepted(post(hub, "documents", change(509, "2", (DISTRICT,))))
    assert delivery_of(hub, update["id"], DISTRICT).state == "waiting"
    # the original finishes without releasing what waits behind it: what the writer leaves
    # when the original is taken between its read and its commit
    with hub.ctx.db.transaction() as session:
        session.execute(update_(Delivery).where(Delivery.message_id == original["id"])
                        .values(state="delivered"))
    wait_until(lambda: inbox(hub, "district") == [update["id"]],
               what="the sweeper to release the update", progress=lambda: inbox(hub, "district"))


def test_an_update_of_an_unknown_original_goes_to_its_own_recipients_with_a_warning(
        hub: LiveHub, receiver: Receiver) -> None:
    update = accepted(post(hub, "documents", change(506, "2", (DEPARTMENT,))))
    assert "original" not in update
    assert [w["code"] for w in update["warnings"]] == ["original_unknown"]
    assert update["warnings"][0]["message_vi"]
    assert update["recipients"] == [DEPARTMENT]
    assert arrive(receiver, "/department", 1) == [update["id"]]
    record = view(hub, update["id"])
    assert record["original"] is None
    assert "original_unknown" in [w.get("code") for w in record["warnings"]]


# -- SOAP, edXML (the corpus's own update, revocation and statuses) ---------------------------
@pytest.fixture
def soap_hub(make_settings, pg_url: str, redis_url: str,
             receiver: Receiver) -> Iterator[LiveHub]:
    settings = make_settings(database_url=pg_url, redis_url=redis_url, embedded_worker=True)
    push = {system: {"mode": "push", "url": f"{receiver.url}/{system}", "format": "edxml"}
            for system in ("vpcp", "nghean", "h14")}
    with run_hub(settings, corpus_directory(receive=push)) as live:
        yield live


def corpus_package(name: str, *, to: tuple[str, ...], doc_type: str | None = None) -> bytes:
    """A corpus package from 000.00.00.G22 addressed to `to` only, its BussinessDocType
    changed to `doc_type` if given."""
    raw = (CORPUS / name).read_bytes()
    for block in re.findall(rb"<edXML:To>.*?</edXML:To>\s*", raw, flags=re.S):
        code = re.search(rb"<edXML:OrganId>([^<]+)<", block)
        assert code is not None
        if code.group(1).decode() not in to:
            raw = raw.replace(block, b"")
    if doc_type is not None:
        raw = re.sub(rb"<edXML:BussinessDocType>\d<",
                     b"<edXML:BussinessDocType>" + doc_type.encode() + b"<", raw)
    return raw


def soap_send(hub: LiveHub, system: str, raw: bytes, operation: str = "SendDocument") -> Any:
    client = zeep_client(hub.url, system, CORPUS_KEYS[system])
    return getattr(client.service, operation)(PackageBase64=raw)


def test_soap_edxml_update_revocation_and_recall_reach_every_recipient(
        soap_hub: LiveHub, receiver: Receiver) -> None:
    original = soap_send(soap_hub, "vpcp",
                         corpus_package("edoc_update.edxml", to=(H41, H14), doc_type="0"))
    # the corpus's update and revocation, addressed to Nghệ An only
    update = soap_send(soap_hub, "vpcp", corpus_package("edoc_update.edxml", to=(H41,)))
    revoke = soap_send(soap_hub, "vpcp", corpus_package("edoc_revocation.edxml", to=(H41,)))
    for answer in (update, revoke):
        assert answer.Status == "accepted" and answer.Original == original.MessageId
        assert sorted(answer.Recipients.OrganId) == [H14, H41]
    # the corpus's recall (13) names Nghệ An; H14 is told too
    recall = soap_send(soap_hub, "vpcp",
                       (CORPUS / "status_cancellation_13.edxml").read_bytes(), "SendStatus")
    assert sorted(recall.Recipients.OrganId) == [H14, H41]
    order = [original.MessageId, update.MessageId, revoke.MessageId, recall.MessageId]
    assert arrive(receiver, "/nghean", 4) == order
    assert arrive(receiver, "/h14", 4) == order
    # delivered byte for byte, as sent
    assert receiver.at("/h14")[1].body == corpus_package("edoc_update.edxml", to=(H41,))

    # the corpus's answers: 15 from Nghệ An, 16 (here) from H14, back to the sender
    agree = soap_send(soap_hub, "nghean",
                      (CORPUS / "status_change-acceptance_15.edxml").read_bytes(), "SendStatus")
    refusal = (CORPUS / "status_change-rejection_16.edxml").read_bytes().replace(
        b"<edXML:OrganId>000.00.00.H41<", b"<edXML:OrganId>000.00.00.H14<", 1)
    refuse = soap_send(soap_hub, "h14", refusal, "SendStatus")
    assert agree.Recipients.OrganId == [G22] and refuse.Recipients.OrganId == [G22]
    assert sorted(arrive(receiver, "/vpcp", 2)) == sorted([agree.MessageId, refuse.MessageId])

    trace = zeep_client(soap_hub.url, "vpcp", CORPUS_KEYS["vpcp"]).service.GetTrace(
        MessageId=original.MessageId)
    assert [(c.MessageId, c.BussinessDocType, c.StatusCode) for c in trace.Change] == [
        (update.MessageId, "2", None), (revoke.MessageId, "1", None),
        (recall.MessageId, None, "13")]
    assert [(s.StatusCode, s.From) for s in trace.Status] == [
        ("13", G22), ("15", H41), ("16", H14)]


def test_soap_edxml_replacement_finds_its_original_by_the_replaced_document_ids(
        soap_hub: LiveHub, receiver: Receiver) -> None:
    replaced_id = "000.00.00.G22,2014/01/30,7806/VPCP-TTĐT"  # the corpus's ReplacementInfo
    replaced = corpus_package("edoc_update.edxml", to=(H41, H14), doc_type="0").replace(
        b"<edXML:DocumentId>000.00.00.G22,2015/09/30,7816/VPCP-TT\xc4\x90T<",
        b"<edXML:DocumentId>" + replaced_id.encode() + b"<", 1)
    original = soap_send(soap_hub, "vpcp", replaced)
    assert original.DocumentId == replaced_id
    replacement = soap_send(soap_hub, "vpcp",
                            corpus_package("edoc_replacement.edxml", to=(H41,)))
    assert replacement.Original == original.MessageId
    assert sorted(replacement.Recipients.OrganId) == [H14, H41]
    assert arrive(receiver, "/h14", 2) == [original.MessageId, replacement.MessageId]


def test_soap_json_update_and_unknown_original(hub: LiveHub, receiver: Receiver) -> None:
    client = zeep_client(hub.url, "province", KEYS["province"])
    original = client.service.SendDocument(
        PackageBase64=body(document(507, to=(DEPARTMENT, COMMUNE))),
        MediaType="application/json")
    update = client.service.SendDocument(PackageBase64=body(change(507, "2", (COMMUNE,))),
                                         MediaType="application/json")
    assert update.Original == original.MessageId and not update.Warning
    assert sorted(update.Recipients.OrganId) == sorted([DEPARTMENT, COMMUNE])
    assert arrive(receiver, "/department", 2) == [original.MessageId, update.MessageId]
    # over SOAP too an update of an unknown original says so
    lost = client.service.SendDocument(PackageBase64=body(change(508, "3", (COMMUNE,))),
                                       MediaType="application/json")
    assert lost.Original is None
    assert [w.Code for w in lost.Warning] == ["original_unknown"]


def test_rest_edxml_update_and_unknown_original(soap_hub: LiveHub, receiver: Receiver) -> None:
    def send(raw: bytes) -> dict[str, Any]:
        return accepted(httpx.post(
            f"{soap_hub.url}/api/v1/documents", content=raw, timeout=30,
            headers={"Authorization": f"Bearer {CORPUS_KEYS['vpcp']}",
                     "Content-Type": "application/xml"}))

    # the corpus's update alone: the hub never carried its original
    lost = send(corpus_package("edoc_update.edxml", to=(H14,)))
    assert [w["code"] for w in lost["warnings"]] == ["original_unknown"]
    assert lost["recipients"] == [H14]
    assert arrive(receiver, "/h14", 1) == [lost["id"]]

    original = send(corpus_package("edoc_revocation.edxml", to=(H41, H14), doc_type="0"))
    revoke = send(corpus_package("edoc_revocation.edxml", to=(H14,)))
    assert revoke["original"] == original["id"] and "warnings" not in revoke
    assert sorted(revoke["recipients"]) == [H14, H41]
    assert arrive(receiver, "/nghean", 2) == [original["id"], revoke["id"]]
