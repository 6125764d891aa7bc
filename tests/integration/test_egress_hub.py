"""The single exit inside a running hub: a receiver's WSDL naming another system's address is
refused, dead-lettered, audited as `egress.denied` and counted in the metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from hub.query import message_view
from routing.directory import Directory
from security.audit_tables import AuditEvent
from tests.legacy_soap import WSDL as LEGACY_WSDL
from tests.support import (
    DEPARTMENT,
    DISTRICT,
    KEYS,
    PROVINCE,
    Receiver,
    body,
    document,
    key_hash,
    run_hub,
    wait_until,
)


def directory(legacy_wsdl: Path, receiver: Receiver) -> Directory:
    return Directory.from_dict({
        "organizations": [
            {"code": PROVINCE, "name": "UBND thành phố Huế", "level": "province"},
            {"code": DEPARTMENT, "name": "Sở Nội vụ", "level": "department",
             "parent": PROVINCE},
            {"code": DISTRICT, "name": "UBND huyện Phong Điền", "level": "district",
             "parent": PROVINCE},
        ],
        "systems": [
            {"id": "province", "organizations": [PROVINCE],
             "api_key_hashes": [key_hash(KEYS["province"])], "receive": {"mode": "pull"}},
            {"id": "so-noi-vu", "organizations": [DEPARTMENT],
             "receive": {"mode": "push", "url": f"{receiver.url}/so-noi-vu"}},
            {"id": "legacy", "organizations": [DISTRICT],
             "receive": {"mode": "push", "adapter": "soap",
                         "soap": {"wsdl": str(legacy_wsdl), "operation": "NhanVanBan"}}},
        ],
    })


def events(db: Any, name: str) -> list[dict[str, Any]]:
    with db.reading() as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.event == name)
                               .order_by(AuditEvent.seq)).scalars().all()
    return [{"actor": r.actor, **json.loads(r.detail)} for r in rows]


def test_a_wsdl_naming_another_systems_address_is_refused_and_audited(
        make_settings: Any, receiver: Receiver, tmp_path: Path) -> None:
    # the legacy system's WSDL sends its calls to the department's receiver
    wsdl = tmp_path / "qlvb.wsdl"
    wsdl.write_text(LEGACY_WSDL.replace("ADDRESS", f"{receiver.url}/so-noi-vu"), "utf-8")
    with run_hub(make_settings(), directory(wsdl, receiver)) as hub:
        r = httpx.post(f"{hub.url}/api/v1/documents",
                       content=body(document(61, to=(DISTRICT,))),
                       headers={"Authorization": f"Bearer {KEYS['province']}",
                                "Content-Type": "application/json"})
        assert r.status_code == 202, r.text
        message_id = r.json()["id"]

        def delivery() -> dict[str, Any]:
            view = message_view(hub.ctx.db, hub.ctx.settings, None, message_id)
            return dict(view["deliveries"][0])

        wait_until(lambda: delivery()["state"] == "dead", what="a dead letter")
        assert receiver.received == []
        [attempt] = delivery()["attempts"]
        assert attempt["outcome"] == "permanent"
        assert "registered for so-noi-vu" in attempt["detail"]
        wait_until(lambda: bool(events(hub.ctx.db, "egress.denied")), what="the audit event")
        [denied] = events(hub.ctx.db, "egress.denied")
        assert denied == {"actor": "egress", "system": "legacy",
                          "destination": f"{receiver.url}/so-noi-vu",
                          "code": "egress_other_system", "reason": attempt["detail"]}
        metrics = httpx.get(f"{hub.url}/metrics").text
        assert (f'lienthong_egress_requests_total{{destination="{receiver.url}",'
                f'outcome="egress_other_system"}} 1.0') in metrics
