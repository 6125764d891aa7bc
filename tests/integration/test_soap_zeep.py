"""zeep, given only the WSDL address, drives every operation of a live hub."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest
import zeep

from tests.soap_support import hub_fault, zeep_client
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
    hue_directory,
    run_hub,
    status,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def hub(make_settings, pg_url: str, redis_url: str, receiver: Receiver) -> Iterator[LiveHub]:
    settings = make_settings(database_url=pg_url, redis_url=redis_url, embedded_worker=True)
    with run_hub(settings, hue_directory(receiver.url)) as live:
        yield live


def client(hub: LiveHub, who: str, port: str | None = None) -> zeep.Client:
    return zeep_client(hub.url, who, KEYS[who], port=port)


def test_wsdl_names_the_operations_and_points_at_the_hub(hub: LiveHub) -> None:
    r = httpx.get(f"{hub.url}/soap?wsdl")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/xml")
    wsdl = zeep_client(hub.url)
    service = wsdl.wsdl.services["LienthongService"]
    for port in service.ports.values():
        assert port.binding_options["address"] == f"{hub.url}/soap"
        assert set(port.binding._operations) == {
            "SendDocument", "SendStatus", "GetPendingDocumentIds", "GetDocument",
            "ConfirmReceived", "GetTrace", "GetOrganizations"}


@pytest.mark.parametrize("port", ["LienthongSoap12", "LienthongSoap11"])
def test_organisations_through_both_bindings(hub: LiveHub, port: str) -> None:
    orgs = client(hub, "district", port).service.GetOrganizations()
    codes = {o.Code for o in orgs}
    assert codes == {PROVINCE, DEPARTMENT, DISTRICT, COMMUNE, "000.00.05.H57"}
    district = next(o for o in orgs if o.Code == DISTRICT)
    assert district.Name == "UBND huyện Phong Điền"
    assert district.Parent == PROVINCE
    assert district.Alias == ["000.00.91.H57"]
    only = client(hub, "district", port).service.GetOrganizations(Level="commune")
    assert [o.Code for o in only] == [COMMUNE]
    found = client(hub, "district", port).service.GetOrganizations(Query="nội vụ")
    assert [o.Code for o in found] == [DEPARTMENT]


def test_pull_system_polls_fetches_and_confirms_a_document_sent_over_soap(
    hub: LiveHub, receiver: Receiver
) -> None:
    sent = client(hub, "province").service.SendDocument(
        PackageBase64=body(document(201)), MediaType="application/json")
    assert sent.Status == "accepted"
    assert sent.Kind == "document"
    assert sent.DocumentId == document(201)["documentId"]
    assert sorted(sent.Recipients.OrganId) == sorted([DEPARTMENT, DISTRICT, COMMUNE])

    district = client(hub, "district")
    pending = district.service.GetPendingDocumentIds()
    assert [p.MessageId for p in pending] == [sent.MessageId]
    assert pending[0].Sender == PROVINCE
    assert pending[0].Recipients.OrganId == [DISTRICT]
    assert pending[0].Subject == document(201)["subject"]

    fetched = district.service.GetDocument(MessageId=sent.MessageId, Format="json")
    assert fetched.MediaType == "application/json"
    assert json.loads(fetched.PackageBase64)["documentId"] == document(201)["documentId"]

    confirmed = district.service.ConfirmReceived(MessageId=sent.MessageId, Result="done")
    assert confirmed.State == "delivered"
    assert district.service.GetPendingDocumentIds() == []

    wait_until(lambda: receiver.at("/department") and receiver.at("/commune"),
               what="push deliveries")
    trace = client(hub, "province").service.GetTrace(MessageId=sent.MessageId)
    assert trace.MessageId == sent.MessageId
    wait_until(lambda: client(hub, "province").service.GetTrace(
        MessageId=sent.MessageId).State == "delivered", what="every delivery finished")
    trace = client(hub, "province").service.GetTrace(MessageId=sent.MessageId)
    assert {d.Recipient: d.State for d in trace.Delivery} == {
        DEPARTMENT: "delivered", DISTRICT: "delivered", COMMUNE: "delivered"}
    events = [h.Event for h in trace.Hop if h.Source == "hub"]
    assert events[0] == "message.received"
    assert "message.acknowledged" in events


def test_document_sent_over_rest_is_pulled_over_soap_and_answered_with_a_status(
    hub: LiveHub,
) -> None:
    r = httpx.post(f"{hub.url}/api/v1/documents", content=body(document(202)),
                   headers={"Authorization": f"Bearer {KEYS['province']}",
                            "Content-Type": "application/json"})
    assert r.status_code == 202, r.text
    message_id = r.json()["id"]
    district = client(hub, "district")
    assert [p.MessageId for p in district.service.GetPendingDocumentIds(Limit=10)] == [
        message_id]
    district.service.ConfirmReceived(MessageId=message_id)

    answer = district.service.SendStatus(
        PackageBase64=body(status(document(202)["documentId"], DISTRICT, PROVINCE, "03")),
        MediaType="application/json")
    assert answer.Kind == "status"
    assert answer.Recipients.OrganId == [PROVINCE]
    trace = client(hub, "province").service.GetTrace(MessageId=message_id)
    assert [(s.StatusCode, s.From) for s in trace.Status] == [("03", DISTRICT)]


def test_faults_reach_zeep_with_the_hub_code(hub: LiveHub) -> None:
    district = client(hub, "district")
    with pytest.raises(zeep.exceptions.Fault) as caught:
        district.service.GetDocument(MessageId="no-such-message")
    assert caught.value.code.endswith("Sender")
    assert hub_fault(caught.value)["Code"] == "inbox_item_not_found"

    wrong = zeep_client(hub.url, "district", "not-the-key")
    with pytest.raises(zeep.exceptions.Fault) as caught:
        wrong.service.GetOrganizations()
    assert hub_fault(caught.value)["Code"] == "invalid_credentials"

    anonymous = zeep_client(hub.url)
    with pytest.raises(zeep.exceptions.Fault) as caught:
        anonymous.service.GetOrganizations()
    assert hub_fault(caught.value)["Code"] == "missing_credentials"

    with pytest.raises(zeep.exceptions.Fault) as caught:
        district.service.SendDocument(PackageBase64=body({"from": {}}),
                                      MediaType="application/json")
    detail = hub_fault(caught.value)
    assert detail["Code"] == "validation_failed"
    # every missing field at the object that lacks it: six at the top, organId in from
    assert sorted(e["Path"] for e in detail["Error"]) == ["/"] * 6 + ["/from"], detail


def test_duplicate_submission_answers_with_the_first_message_id(hub: LiveHub) -> None:
    province = client(hub, "province")
    package = base64.b64decode(base64.b64encode(body(document(203))))
    first = province.service.SendDocument(PackageBase64=package, MediaType="application/json")
    again = province.service.SendDocument(PackageBase64=package, MediaType="application/json")
    assert (first.Status, again.Status) == ("accepted", "duplicate")
    assert again.MessageId == first.MessageId
