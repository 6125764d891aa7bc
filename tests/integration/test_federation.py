"""Two hubs on loopback, over mutual TLS: a document from one province reaches a unit of the
other, its statuses come back along the same path, both ways; a loop is refused."""

from __future__ import annotations

import hashlib
import json
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.model import Form
from core.settings import Settings
from hub.store.models import Delivery, Message
from routing.directory import Directory
from schemas.mapping import convert
from tests.egress_support import Pki, make_pki
from tests.support import (
    DEPARTMENT,
    KEYS,
    PROVINCE,
    LiveHub,
    Receiver,
    body,
    document,
    events_after,
    free_port,
    hue_directory_data,
    key_hash,
    last_seq,
    run_hub,
    run_receiver,
    status,
    wait_until,
)

pytestmark = pytest.mark.integration

# province B: Phú Thọ
PT_PROVINCE, PT_DEPARTMENT = "000.00.00.H44", "000.00.02.H44"
# a unit each hub believes the other serves: a directory mistake that would make a loop
GHOST = "000.00.09.H57"
PT_KEYS = {"pt-department": "key-pt-department"}
# the key each hub gave the other, and the variables the other reads it from
KEY_A_GAVE_B, KEY_B_GAVE_A = "key-hub-b-at-a", "key-hub-a-at-b"
ENV_KEY_FOR_A, ENV_KEY_FOR_B = "LT_TEST_HUB_A_KEY", "LT_TEST_HUB_B_KEY"


@dataclass
class Pair:
    a: LiveHub
    b: LiveHub
    at_a: Receiver  # the systems of province A
    at_b: Receiver  # the systems of province B
    pki: Pki

    def client(self) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.pki.ca))
        context.load_cert_chain(self.pki.client_cert, self.pki.client_key)
        return httpx.Client(verify=context, timeout=10)


def directory_a(receiver_url: str, port_b: int) -> Directory:
    data = hue_directory_data(receiver_url)
    data["organizations"] += [
        {"code": PT_PROVINCE, "name": "UBND tỉnh Phú Thọ", "level": "external"},
        {"code": PT_DEPARTMENT, "name": "Sở Nội vụ Phú Thọ", "level": "external"},
        {"code": GHOST, "name": "Đơn vị nhầm", "level": "external"},
    ]
    data["systems"].append(
        {"id": "hub-phu-tho", "organizations": [PT_PROVINCE, PT_DEPARTMENT, GHOST],
         "api_key_hashes": [key_hash(KEY_A_GAVE_B)],
         "receive": {"mode": "push", "adapter": "hub", "url": f"https://127.0.0.1:{port_b}",
                     "format": "edxml", "hub": {"api_key_env": ENV_KEY_FOR_B}}})
    return Directory.from_dict(data)


def directory_b(receiver_url: str, port_a: int) -> Directory:
    return Directory.from_dict({
        "organizations": [
            {"code": PT_PROVINCE, "name": "UBND tỉnh Phú Thọ", "level": "province"},
            {"code": PT_DEPARTMENT, "name": "Sở Nội vụ Phú Thọ", "level": "department",
             "parent": PT_PROVINCE},
            {"code": PROVINCE, "name": "UBND thành phố Huế", "level": "external"},
            {"code": DEPARTMENT, "name": "Sở Nội vụ Huế", "level": "external"},
            {"code": GHOST, "name": "Đơn vị nhầm", "level": "external"},
        ],
        "systems": [
            {"id": "pt-department", "organizations": [PT_DEPARTMENT],
             "api_key_hashes": [key_hash(PT_KEYS["pt-department"])],
             "receive": {"mode": "push", "url": f"{receiver_url}/pt-department"}},
            {"id": "hub-hue", "organizations": [PROVINCE, DEPARTMENT, GHOST],
             "api_key_hashes": [key_hash(KEY_B_GAVE_A)],
             "receive": {"mode": "push", "adapter": "hub",
                         "url": f"https://127.0.0.1:{port_a}",
                         "hub": {"api_key_env": ENV_KEY_FOR_A}}},
        ],
    })


@pytest.fixture
def pair(make_settings: Callable[..., Settings], pg_url: str, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Pair]:
    """Hub A (Huế) on PostgreSQL, hub B (Phú Thọ) on SQLite; each answers HTTPS only and
    only to a client certificate of the test CA, and presents that certificate itself."""
    pki = make_pki(tmp_path, "lgsp.test", server_ip="127.0.0.1")
    monkeypatch.setenv(ENV_KEY_FOR_B, KEY_B_GAVE_A)
    monkeypatch.setenv(ENV_KEY_FOR_A, KEY_A_GAVE_B)
    egress = {"ca_bundle": str(pki.ca), "client_cert": str(pki.client_cert),
              "client_key": str(pki.client_key)}
    tls: dict[str, Any] = {"ssl_certfile": str(pki.server_cert),
                           "ssl_keyfile": str(pki.server_key), "ssl_ca_certs": str(pki.ca),
                           "ssl_cert_reqs": ssl.CERT_REQUIRED}
    port_a, port_b = free_port(), free_port()
    settings_a = make_settings(database_url=pg_url, embedded_worker=True, egress=egress,
                               hub_organ_id="000.00.00.H57")
    settings_b = make_settings(embedded_worker=True, egress=egress,
                               hub_organ_id="000.00.00.H44")
    with run_receiver() as at_a, run_receiver() as at_b, \
            run_hub(settings_a, directory_a(at_a.url, port_b), port=port_a, **tls) as a, \
            run_hub(settings_b, directory_b(at_b.url, port_a), port=port_b, **tls) as b:
        try:
            yield Pair(a, b, at_a, at_b, pki)
        finally:
            # each hub keeps a connection open to the other; closed first, neither server
            # waits for it at shutdown
            a.ctx.egress.close()
            b.ctx.egress.close()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def view(client: httpx.Client, hub: LiveHub, message_id: str, key: str) -> dict[str, Any]:
    r = client.get(f"{hub.url}/api/v1/messages/{message_id}", headers=auth(key))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_document_reaches_the_other_province_and_its_statuses_come_back(pair: Pair) -> None:
    with pair.client() as client:
        doc = document(60, to=(PT_DEPARTMENT,))
        r = client.post(f"{pair.a.url}/api/v1/documents", content=body(doc),
                        headers=auth(KEYS["province"]))
        assert r.status_code == 202, r.text
        sent_id = r.json()["id"]

        wait_until(lambda: pair.at_b.at("/pt-department"), what="the document at Phú Thọ")
        arrived = pair.at_b.at("/pt-department")[0]
        assert json.loads(arrived.body)["documentId"] == doc["documentId"]
        at_b_id = arrived.headers["X-Lienthong-Message-Id"]
        trace = view(client, pair.b, at_b_id, PT_KEYS["pt-department"])["trace"]
        hops = [t for t in trace if t["source"] == "hop"]
        assert [h["organId"] for h in hops] == ["000.00.00.H57"]
        # hub A forwarded it as hub-hue's: B knows which peer it came from
        assert view(client, pair.b, at_b_id, PT_KEYS["pt-department"])["sender_system"] \
            == "hub-hue"

        r = client.post(f"{pair.b.url}/api/v1/statuses", headers=auth(PT_KEYS["pt-department"]),
                        content=body(status(doc["documentId"], PT_DEPARTMENT, PROVINCE, "03")))
        assert r.status_code == 202, r.text

        wait_until(lambda: pair.at_a.at("/province"), what="the status back in Huế")
        back = json.loads(pair.at_a.at("/province")[0].body)
        assert back["statusCode"] == "03"
        assert back["from"]["organId"] == PT_DEPARTMENT
        wait_until(lambda: view(client, pair.a, sent_id, KEYS["province"])["status_history"],
                   what="the status in the original's history at A")
        history = view(client, pair.a, sent_id, KEYS["province"])["status_history"]
        assert [(s["status_code"], s["from"]) for s in history] == [("03", PT_DEPARTMENT)]
        deliveries = view(client, pair.a, sent_id, KEYS["province"])["deliveries"]
        assert [(d["recipient"], d["state"]) for d in deliveries] \
            == [(PT_DEPARTMENT, "delivered")]


def test_an_edxml_package_reaches_the_other_hub_byte_for_byte(pair: Pair) -> None:
    # the hops travel in a header, so a signature over the package would still hold
    package = convert(body(document(66, to=(PT_DEPARTMENT,))), Form.JSON, Form.EDXML)
    with pair.client() as client:
        r = client.post(f"{pair.a.url}/api/v1/documents", content=package,
                        headers={**auth(KEYS["province"]), "Content-Type": "application/xml"})
        assert r.status_code == 202, r.text
        wait_until(lambda: pair.at_b.at("/pt-department"), what="the document at Phú Thọ")
        at_b = view(client, pair.b, pair.at_b.at("/pt-department")[0]
                    .headers["X-Lienthong-Message-Id"], PT_KEYS["pt-department"])
    assert (at_b["form"], at_b["sha256"]) == ("edxml", hashlib.sha256(package).hexdigest())


def test_the_other_way_round(pair: Pair) -> None:
    with pair.client() as client:
        doc = document(61, to=(DEPARTMENT,), sender=PT_DEPARTMENT)
        r = client.post(f"{pair.b.url}/api/v1/documents", content=body(doc),
                        headers=auth(PT_KEYS["pt-department"]))
        assert r.status_code == 202, r.text

        wait_until(lambda: pair.at_a.at("/department"), what="the document in Huế")
        arrived = pair.at_a.at("/department")[0]
        assert json.loads(arrived.body)["documentId"] == doc["documentId"]
        trace = view(client, pair.a, arrived.headers["X-Lienthong-Message-Id"],
                     KEYS["department"])["trace"]
        assert [t["organId"] for t in trace if t["source"] == "hop"] == ["000.00.00.H44"]

        r = client.post(f"{pair.a.url}/api/v1/statuses", headers=auth(KEYS["department"]),
                        content=body(status(doc["documentId"], DEPARTMENT, PT_DEPARTMENT, "01")))
        assert r.status_code == 202, r.text
        wait_until(lambda: [x for x in pair.at_b.at("/pt-department")
                            if json.loads(x.body).get("statusCode") == "01"],
                   what="the status back in Phú Thọ")


def test_a_package_that_would_circle_between_the_hubs_is_refused_at_the_first_hub(
        pair: Pair) -> None:
    with pair.client() as client:
        r = client.post(f"{pair.a.url}/api/v1/documents", headers=auth(KEYS["province"]),
                        content=body(document(62, to=(GHOST,))))
        assert r.status_code == 202, r.text

        def dead_at_b() -> list[tuple[str, str, str | None]]:
            with pair.b.ctx.db.reading() as session:
                rows = session.execute(select(Delivery).where(Delivery.state == "dead"))
                return [(d.system_id, d.recipient_org, d.last_error) for d in rows.scalars()]

        # A forwarded it to B, B (wrongly) back to A, and A refused it as a loop
        wait_until(dead_at_b, what="B's delivery back to A to be refused")
        [(system, recipient, error)] = dead_at_b()
        assert (system, recipient) == ("hub-hue", GHOST)
        assert "409" in (error or "") and "federation_loop" in (error or "")
        # A carried it once: the refusal made no second message there
        with pair.a.ctx.db.reading() as session:
            assert session.scalar(select(func.count()).select_from(Message)) == 1


def test_a_hop_header_naming_this_hub_is_refused_in_both_languages(pair: Pair) -> None:
    before = last_seq(pair.a)
    with pair.client() as client:
        r = client.post(f"{pair.a.url}/api/v1/documents",
                        headers={**auth(KEY_A_GAVE_B),
                                 "X-Lienthong-Hops": "000.00.00.H57;2026-12-01T08:00:00Z;"
                                                     "m-1, 000.00.00.H44;2026-12-01T08:00:01Z;m-2"},
                        content=body(document(63, to=(PROVINCE,), sender=PT_DEPARTMENT)))
        assert r.status_code == 409, r.text
        assert [(e["event"], e["code"]) for e in events_after(pair.a, before)
                if e["event"] == "message.rejected"] == [("message.rejected", "federation_loop")]
        problem = r.json()
        assert problem["code"] == "federation_loop"
        assert "000.00.00.H57" in problem["detail"] and problem["detail_vi"]

        r = client.post(f"{pair.a.url}/api/v1/documents",
                        headers={**auth(KEY_A_GAVE_B), "X-Lienthong-Hops": "not a hop"},
                        content=body(document(64, to=(PROVINCE,), sender=PT_DEPARTMENT)))
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "hops_invalid"


def test_a_hub_without_the_client_certificate_is_not_let_in(pair: Pair) -> None:
    with httpx.Client(verify=ssl.create_default_context(cafile=str(pair.pki.ca))) as bare, \
            pytest.raises(httpx.TransportError):
        bare.post(f"{pair.b.url}/api/v1/documents", headers=auth(KEY_B_GAVE_A),
                  content=body(document(65, to=(PT_DEPARTMENT,))))
