"""Recipient groups end to end on the demo directory: a directive to the whole province
reaches every unit's system exactly once (push receivers on loopback, pull inboxes) and the
message record lists each unit; groups over REST (JSON, edXML) and SOAP (edXML); the same
package to a group again is a duplicate, and after a unit joins, a supplement to it only."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
import zeep
from sqlalchemy import func, select

from core.settings import DEMO_DIRECTORY
from hub.demo import KEYS
from hub.store.models import Delivery, Message
from routing.directory import Directory
from schemas.mapping import json_to_edxml
from tests.soap_support import hub_fault, zeep_client
from tests.support import LiveHub, Receiver, body, document, key_hash, run_hub, wait_until

pytestmark = pytest.mark.integration

PROVINCE, OFFICE, HOME, FINANCE = ("000.00.00.H57", "000.00.01.H57", "000.00.02.H57",
                                   "000.00.03.H57")
PHONG_DIEN = ("000.00.21.H57", "000.01.21.H57", "000.02.21.H57")
PHU_VANG = ("000.00.23.H57", "000.01.23.H57")
HUONG_THUY = "000.00.26.H57"
# every unit of the demo directory with a receiving system, but the province (the sender)
EVERYONE = {OFFICE, HOME, FINANCE, *PHONG_DIEN, *PHU_VANG, HUONG_THUY}
PUSHED = {OFFICE, HOME, FINANCE, *PHU_VANG}
NEW_UNIT = "000.00.04.H57"  # Sở Xây dựng: in the demo directory, without a system
NEW_KEY = "key-so-xay-dung"


def demo_data(receiver_url: str) -> dict[str, Any]:
    """The demo directory as shipped, its push systems pointed at the test's receiver."""
    data = yaml.safe_load(DEMO_DIRECTORY.read_text(encoding="utf-8"))
    for system in data["systems"]:
        receive = system.get("receive", {})
        if receive.get("url"):
            receive["url"] = receiver_url + "/" + system["id"]
    return data


def with_new_unit(data: dict[str, Any]) -> Directory:
    """The same directory once Sở Xây dựng has a system of its own."""
    data = json.loads(json.dumps(data))
    data["systems"].append({"id": "qlvb-so-xay-dung", "organizations": [NEW_UNIT],
                            "api_key_hashes": [key_hash(NEW_KEY)], "receive": {"mode": "pull"}})
    return Directory.from_dict(data)


@pytest.fixture
def settings(make_settings, pg_url: str, redis_url: str) -> Any:
    return make_settings(database_url=pg_url, redis_url=redis_url, embedded_worker=True)


@pytest.fixture
def hub(settings: Any, receiver: Receiver) -> Iterator[LiveHub]:
    with run_hub(settings, Directory.from_dict(demo_data(receiver.url))) as live:
        yield live


def post(hub: LiveHub, raw: bytes, system: str = "qlvb-tinh",
         media_type: str = "application/json") -> httpx.Response:
    return httpx.post(f"{hub.url}/api/v1/documents", content=raw, timeout=30,
                      headers={"Authorization": f"Bearer {KEYS[system]}",
                               "Content-Type": media_type})


def pushed(hub: LiveHub) -> None:
    def done() -> bool:
        with hub.ctx.db.reading() as session:
            return not session.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.mode == "push", Delivery.state != "delivered"))
    wait_until(done, what="push deliveries to finish")


def pushes_by_recipient(receiver: Receiver) -> Counter[str]:
    with receiver.lock:
        return Counter(r.headers.get("X-Lienthong-Recipient", "") for r in receiver.received)


def inbox(hub: LiveHub, system: str) -> list[dict[str, Any]]:
    key = NEW_KEY if system == "qlvb-so-xay-dung" else KEYS[system]
    r = httpx.get(f"{hub.url}/api/v1/inbox", timeout=30,
                  headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def count(hub: LiveHub, model: type) -> int:
    with hub.ctx.db.reading() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_directive_to_the_whole_province_reaches_every_unit_once(
        hub: LiveHub, receiver: Receiver) -> None:
    r = post(hub, body(document(301, to=("@all",))))
    assert r.status_code == 202, r.text
    answer = r.json()
    assert set(answer["recipients"]) == EVERYONE and len(answer["recipients"]) == 9
    assert {d["status"] for d in answer["deliveries"]} == {"new"}
    [group] = answer["groups"]
    assert (group["code"], set(group["members"])) == ("@all", EVERYONE)
    assert group["name"] == "the whole province"

    pushed(hub)
    assert pushes_by_recipient(receiver) == Counter(dict.fromkeys(PUSHED, 1))
    # the pulling systems find it once, for each unit they receive for
    [phong_dien] = inbox(hub, "qlvb-phong-dien")
    [huong_thuy] = inbox(hub, "qlvb-huong-thuy")
    assert phong_dien["id"] == huong_thuy["id"] == answer["id"]
    assert sorted(phong_dien["recipients"]) == sorted(PHONG_DIEN)
    assert huong_thuy["recipients"] == [HUONG_THUY]

    # the message record lists each unit, and the group
    record = httpx.get(f"{hub.url}/api/v1/messages/{answer['id']}", timeout=30,
                       headers={"Authorization": f"Bearer {KEYS['qlvb-tinh']}"}).json()
    assert Counter(d["recipient"] for d in record["deliveries"]) == Counter(
        dict.fromkeys(EVERYONE, 1))
    assert record["groups"] == answer["groups"]
    states = {d["recipient"]: d["state"] for d in record["deliveries"]}
    assert {states[u] for u in PUSHED} == {"delivered"}
    assert {states[u] for u in EVERYONE - PUSHED} == {"available"}


def test_a_unit_named_and_in_two_groups_is_served_once(hub: LiveHub,
                                                       receiver: Receiver) -> None:
    r = post(hub, body(document(302, to=("@departments", HOME, "@khoi.tonghop",
                                         "000.01.23.H57", "@communes.23"))))
    assert r.status_code == 202, r.text
    answer = r.json()
    assert answer["recipients"] == [OFFICE, HOME, FINANCE, "000.01.23.H57"]
    assert [g["code"] for g in answer["groups"]] == ["@departments", "@khoi.tonghop",
                                                     "@communes.23"]
    pushed(hub)
    assert pushes_by_recipient(receiver) == Counter(
        {OFFICE: 1, HOME: 1, FINANCE: 1, "000.01.23.H57": 1})


def test_a_group_in_an_edxml_package_over_rest(hub: LiveHub, receiver: Receiver) -> None:
    raw = json_to_edxml(document(303, to=("@communes.21", "@communes.23")))
    r = post(hub, raw, media_type="application/xml")
    assert r.status_code == 202, r.text
    answer = r.json()
    assert answer["recipients"] == [*PHONG_DIEN[1:], PHU_VANG[1]]
    pushed(hub)
    # the receiver (which takes JSON) gets the package as sent, addressed to the groups
    with receiver.lock:
        [commune] = [x for x in receiver.received
                     if x.headers.get("X-Lienthong-Recipient") == PHU_VANG[1]]
    assert [t["organId"] for t in json.loads(commune.body)["to"]] == [
        "@communes.21", "@communes.23"]


def test_a_group_over_soap_edxml(hub: LiveHub, receiver: Receiver) -> None:
    client = zeep_client(hub.url, "qlvb-huong-thuy", KEYS["qlvb-huong-thuy"])
    doc = document(304, sender=HUONG_THUY, to=("@khoi.tonghop", "@districts"))
    reply = client.service.SendDocument(PackageBase64=json_to_edxml(doc))
    assert reply.Status == "accepted"
    # the sender's own unit is not among its group's recipients
    assert reply.Recipients.OrganId == [OFFICE, HOME, FINANCE, PHONG_DIEN[0], PHU_VANG[0]]
    groups = {g.Code: g.Members.OrganId for g in reply.Groups.Group}
    assert groups == {"@khoi.tonghop": [OFFICE, HOME, FINANCE],
                      "@districts": [PHONG_DIEN[0], PHU_VANG[0]]}
    assert {d.OrganId: d.Status for d in reply.Deliveries.Delivery} == dict.fromkeys(
        reply.Recipients.OrganId, "new")
    pushed(hub)
    assert pushes_by_recipient(receiver) == Counter(
        {OFFICE: 1, HOME: 1, FINANCE: 1, PHU_VANG[0]: 1})
    trace = client.service.GetTrace(MessageId=reply.MessageId)
    assert {g.Code: g.Members.OrganId for g in trace.Group} == groups
    assert sorted(d.Recipient for d in trace.Delivery) == sorted(reply.Recipients.OrganId)

    with pytest.raises(zeep.exceptions.Fault) as fault:
        client.service.SendDocument(PackageBase64=json_to_edxml(
            document(305, sender=HUONG_THUY, to=("@nowhere",))))
    assert hub_fault(fault.value)["Code"] == "unknown_recipient"


def test_unknown_and_empty_groups_are_refused_and_nothing_is_stored(hub: LiveHub) -> None:
    r = post(hub, body(document(306, to=(HOME, "@nowhere"))))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "unknown_recipient" and problem["detail_vi"]
    [error] = problem["errors"]
    assert error["path"] == "/to/1/organId" and "@nowhere" in error["message"]
    assert error["message_vi"]

    r = post(hub, body(document(307, to=("@communes.22",))))  # Quảng An has no system
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "recipient_group_empty"
    [error] = problem["errors"]
    assert error["path"] == "/to/0/organId" and "000.01.22.H57" in error["message"]
    assert count(hub, Message) == 0


def test_the_same_package_to_a_group_again_is_a_duplicate_then_a_supplement_to_a_new_unit(
        settings: Any, receiver: Receiver) -> None:
    data = demo_data(receiver.url)
    doc = body(document(308, to=("@departments",)))
    with run_hub(settings, Directory.from_dict(data)) as hub:
        first = post(hub, doc)
        assert first.status_code == 202, first.text
        first_id = first.json()["id"]
        again = post(hub, doc)
        assert again.status_code == 200, again.text
        assert (again.json()["status"], again.json()["id"]) == ("duplicate", first_id)
        assert again.json()["groups"] == first.json()["groups"]
        pushed(hub)
    # Sở Xây dựng gets a system: the same package again reaches it, and only it
    with run_hub(settings, with_new_unit(data)) as hub:
        third = post(hub, doc)
        assert third.status_code == 202, third.text
        answer = third.json()
        assert answer["supplement_to"] == first_id
        assert {d["recipient"]: d["status"] for d in answer["deliveries"]} == {
            OFFICE: "already_sent", HOME: "already_sent", FINANCE: "already_sent",
            NEW_UNIT: "new"}
        assert post(hub, doc).json()["status"] == "duplicate"
        assert [i["id"] for i in inbox(hub, "qlvb-so-xay-dung")] == [answer["id"]]
        assert count(hub, Message) == 2
    assert pushes_by_recipient(receiver) == Counter({OFFICE: 1, HOME: 1, FINANCE: 1})
