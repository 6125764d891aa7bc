"""The SOAP push adapter against real SOAP services on loopback: a legacy one and a hub."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.query import message_view
from routing.directory import Directory
from tests.corpus_directory import CORPUS_KEYS, corpus_directory
from tests.legacy_soap import LegacyService, run_legacy_service
from tests.support import (
    CORPUS,
    DISTRICT,
    KEYS,
    PROVINCE,
    LiveHub,
    Receiver,
    body,
    document,
    free_port,
    hue_directory,
    key_hash,
    run_hub,
    wait_until,
)


def directory(receive: dict[str, Any]) -> Directory:
    """The province sends; the district's legacy system receives as `receive` says."""
    return Directory.from_dict({
        "organizations": [
            {"code": PROVINCE, "name": "UBND thành phố Huế", "level": "province"},
            {"code": DISTRICT, "name": "UBND huyện Phong Điền", "level": "district",
             "parent": PROVINCE},
        ],
        "systems": [
            {"id": "province", "organizations": [PROVINCE],
             "api_key_hashes": [key_hash(KEYS["province"])], "receive": {"mode": "pull"}},
            {"id": "legacy", "organizations": [DISTRICT], "receive": receive},
        ],
    })


def legacy_receive(service: LegacyService, **over: Any) -> dict[str, Any]:
    return {"mode": "push", "adapter": "soap", "format": "json",
            "soap": {"wsdl": service.wsdl, "operation": "NhanVanBan"}, **over}


@pytest.fixture
def legacy() -> Iterator[LegacyService]:
    with run_legacy_service() as service:
        yield service


def send(hub: LiveHub, number: int) -> str:
    r = httpx.post(f"{hub.url}/api/v1/documents", content=body(document(number, to=(DISTRICT,))),
                   headers={"Authorization": f"Bearer {KEYS['province']}",
                            "Content-Type": "application/json"})
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def delivery(hub: LiveHub, message_id: str) -> dict[str, Any]:
    view = message_view(hub.ctx.db, hub.ctx.settings, None, message_id)
    return dict(view["deliveries"][0])


def finished(hub: LiveHub, message_id: str) -> bool:
    return delivery(hub, message_id)["state"] in ("delivered", "dead")


def test_receiver_that_faults_twice_then_accepts(make_settings, legacy: LegacyService) -> None:
    legacy.plan = ["server", "server", "ok"]
    with run_hub(make_settings(), directory(legacy_receive(legacy))) as hub:
        message_id = send(hub, 41)
        wait_until(lambda: finished(hub, message_id), what="the delivery to finish")
        d = delivery(hub, message_id)
        assert d["state"] == "delivered"
        assert [a["outcome"] for a in d["attempts"]] == ["transient", "transient", "ok"]
        assert "SOAP fault s:Server" in d["attempts"][0]["detail"]
        assert "Hệ thống đang bận" in d["attempts"][0]["detail"]
        assert "(DA_NHAN)" in d["attempts"][2]["detail"]
        # the same package each time, the exact stored bytes, and traceable headers
        assert len(legacy.calls) == 3
        stored = json.loads(legacy.calls[0].content)
        assert stored["documentId"] == document(41)["documentId"]
        assert {c.content for c in legacy.calls} == {legacy.calls[0].content}
        headers = {k.lower(): v for k, v in legacy.accepted()[0].headers.items()}
        assert headers["x-lienthong-message-id"] == message_id
        assert headers["soapaction"].strip('"') == "urn:qlvb:lienthong/NhanVanBan"
        assert legacy.wsdl_loads == 1  # the WSDL is fetched once, then cached


def test_client_fault_is_a_refusal_and_dead_letters_at_once(
    make_settings, legacy: LegacyService
) -> None:
    legacy.plan = ["client"]
    with run_hub(make_settings(), directory(legacy_receive(legacy))) as hub:
        message_id = send(hub, 42)
        wait_until(lambda: finished(hub, message_id), what="the delivery to finish")
        d = delivery(hub, message_id)
        assert d["state"] == "dead"
        assert [a["outcome"] for a in d["attempts"]] == ["permanent"]
        assert "Văn bản không hợp lệ" in d["last_error"]
        assert len(legacy.calls) == 1


def test_timeouts_and_bare_5xx_are_retried(make_settings, legacy: LegacyService) -> None:
    legacy.plan = ["slow", "http503", "ok"]
    legacy.slow_s = 1.5
    receive = legacy_receive(legacy, timeout_s=0.5)
    with run_hub(make_settings(), directory(receive)) as hub:
        message_id = send(hub, 43)
        wait_until(lambda: finished(hub, message_id), what="the delivery to finish")
        d = delivery(hub, message_id)
        assert d["state"] == "delivered"
        details = [a["detail"] for a in d["attempts"]]
        assert "timed out" in details[0]
        assert "HTTP 503" in details[1]


def test_unreachable_wsdl_is_retried(make_settings) -> None:
    receive = {"mode": "push", "adapter": "soap", "format": "json",
               "soap": {"wsdl": f"http://127.0.0.1:{free_port()}/qlvb?wsdl"}}
    with run_hub(make_settings(delivery={"max_attempts": 3}), directory(receive)) as hub:
        message_id = send(hub, 46)
        wait_until(lambda: finished(hub, message_id), what="the delivery to give up")
        d = delivery(hub, message_id)
        assert [a["outcome"] for a in d["attempts"]] == ["transient"] * 3
        assert "cannot reach the WSDL" in d["last_error"]


def test_a_wrong_operation_is_refused(make_settings, legacy: LegacyService) -> None:
    receive = legacy_receive(legacy)
    receive["soap"]["operation"] = "GuiVanBan"
    with run_hub(make_settings(), directory(receive)) as hub:
        message_id = send(hub, 44)
        wait_until(lambda: finished(hub, message_id), what="the delivery to finish")
        d = delivery(hub, message_id)
        assert d["state"] == "dead"
        assert "no operation 'GuiVanBan'" in d["last_error"]
        assert "NhanVanBan" in d["last_error"]


def test_a_hub_pushes_to_another_hubs_soap_service(make_settings, tmp_path: Path,
                                                   receiver: Receiver) -> None:
    far_db = f"sqlite:///{tmp_path / 'far.db'}"  # each hub its own store
    with run_hub(make_settings(database_url=far_db), hue_directory(receiver.url)) as far:
        basic = base64.b64encode(f"province:{KEYS['province']}".encode()).decode()
        receive = {"mode": "push", "adapter": "soap", "format": "json",
                   "headers": {"Authorization": f"Basic {basic}"},
                   "soap": {"wsdl": f"{far.url}/soap?wsdl", "operation": "SendDocument",
                            "port": "LienthongSoap11"}}
        with run_hub(make_settings(), directory(receive)) as near:
            message_id = send(near, 45)
            wait_until(lambda: finished(near, message_id), what="the push to the far hub")
            d = delivery(near, message_id)
            assert d["state"] == "delivered", d
            assert "MessageId=" in d["attempts"][0]["detail"]
            far_id = d["attempts"][0]["detail"].split("MessageId=")[1].rstrip(")")

            # the far hub has the very bytes the near hub stored, waiting for its district
            inbox = httpx.get(f"{far.url}/api/v1/inbox/{far_id}",
                              headers={"Authorization": f"Bearer {KEYS['district']}",
                                       "Accept": "application/json"})
            assert inbox.status_code == 200
            with near.ctx.db.reading() as session:
                from hub.store.models import Message
                from hub.store.raw import raw_of

                stored = session.get(Message, message_id)
                assert stored is not None
                assert inbox.content == raw_of(near.ctx.sealer, stored)


def test_an_edxml_package_reaches_a_legacy_service_byte_for_byte(
    make_settings, legacy: LegacyService
) -> None:
    raw = (CORPUS / "edoc_update.edxml").read_bytes()
    receive = legacy_receive(legacy, format="edxml")
    with run_hub(make_settings(), corpus_directory({"nghean": receive})) as hub:
        r = httpx.post(f"{hub.url}/api/v1/documents", content=raw,
                       headers={"Authorization": f"Bearer {CORPUS_KEYS['vpcp']}",
                                "Content-Type": "application/xml"})
        assert r.status_code == 202, r.text
        message_id = r.json()["id"]
        wait_until(lambda: legacy.accepted(), what="the push to the legacy service")
        # an xsd:string carries the package as text; its CRLFs travel as character references
        assert legacy.accepted()[0].content.encode("utf-8") == raw

        def nghean_state() -> str:
            view = message_view(hub.ctx.db, hub.ctx.settings, None, message_id)
            return next(d["state"] for d in view["deliveries"]
                        if d["recipient"] == "000.00.00.H41")

        wait_until(lambda: nghean_state() == "delivered", what="the delivery to be recorded")
