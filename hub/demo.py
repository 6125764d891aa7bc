"""`lienthong demo`: an embedded hub and simulated agency systems of Huế, end to end."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from rich.console import Console
from rich.table import Table

from core.settings import Settings
from hub.app import create_app
from hub.context import HubContext
from schemas.mapping import edxml_to_json, json_to_edxml
from security.audit import verify

RECEIVER_PORT = 8701
PROVINCE_KEY = "demo-key-qlvb-tinh"
KEYS = {
    "qlvb-tinh": "demo-key-qlvb-tinh",
    "qlvb-so-noi-vu": "demo-key-so-noi-vu",
    "qlvb-so-tai-chinh": "demo-key-so-tai-chinh",
    "qlvb-phong-dien": "demo-key-phong-dien",
    "qlvb-phu-vang": "demo-key-phu-vang",
    "qlvb-huong-thuy": "demo-key-huong-thuy",
}
LEGACY = "qlvb-huong-thuy"  # a legacy system that speaks only SOAP, and only pulls
# the organisation each simulated system answers for when it sends statuses
SPEAKS_FOR = {
    "so-noi-vu": ("qlvb-so-noi-vu", "000.00.02.H57"),
    "so-tai-chinh": ("qlvb-so-tai-chinh", "000.00.03.H57"),
    "phu-vang": ("qlvb-phu-vang", None),
    "qlvb-tinh": ("qlvb-tinh", None),
}


@dataclass
class Agencies:
    """Simulated agency systems that receive pushes and answer with status 01 then 03."""

    hub_url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> FastAPI:
        api = FastAPI(title="simulated agency systems")

        @api.post("/receive/{system}")
        async def receive(system: str, request: Request) -> dict[str, bool]:
            raw = await request.body()
            kind = request.headers.get("x-lienthong-kind", "")
            entry = {"system": system, "kind": kind, "bytes": len(raw),
                     "message_id": request.headers.get("x-lienthong-message-id"),
                     "recipient": request.headers.get("x-lienthong-recipient"),
                     "sender": request.headers.get("x-lienthong-sender"),
                     "content_type": request.headers.get("content-type"), "raw": raw}
            with self.lock:
                self.received.append(entry)
            return {"ok": True}

        return api


def _doc(number: int, to: list[str], subject: str, type_name: str, notation: str,
         priority: str = "0") -> dict[str, Any]:
    today = dt.date.today().strftime("%Y/%m/%d")
    return {
        "from": {"organId": "000.00.00.H57", "organName": "Ủy ban nhân dân thành phố Huế",
                 "organAdd": "16 Lê Lợi, Huế"},
        "to": [{"organId": code} for code in to],
        "documentId": f"000.00.00.H57,{today},{number}/{notation}",
        "code": {"codeNumber": str(number), "codeNotation": notation},
        "promulgationInfo": {"place": "Huế", "promulgationDate": today},
        "documentType": {"type": "1", "typeName": type_name},
        "subject": subject,
        "content": subject,
        "signerInfo": {"competence": "TM. UBND", "position": "Chủ tịch",
                       "fullName": "Nguyễn Văn A"},
        "otherInfo": {"priority": priority},
    }


def _status(document_id: str, sender: str, to: str, code: str, text: str) -> dict[str, Any]:
    return {
        "from": {"organId": sender},
        "responseFor": {"organId": to, "documentId": document_id},
        "statusCode": code,
        "description": text,
        "timestamp": dt.datetime.now().strftime("%Y/%m/%d %H:%M:%S"),
    }


def _serve(app: FastAPI, host: str, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError(f"could not start a server on {host}:{port}")
        time.sleep(0.05)
    return server


def run_demo(settings: Settings, host: str, port: int, keep_serving: bool,
             console: Console) -> None:
    """Walk documents and statuses through an embedded hub and print what happened."""
    hub_url = f"http://{host}:{port}"
    agencies = Agencies(hub_url)
    receivers = _serve(agencies.app(), "127.0.0.1", RECEIVER_PORT)
    ctx = HubContext.build(settings)
    hub_server = _serve(create_app(settings, context=ctx), host, port)
    console.rule("[bold]lienthong demo: Thành phố Huế")
    console.print(f"hub at {hub_url} (REST /api/v1, SOAP /soap, docs /docs); "
                  f"simulated agency systems at http://127.0.0.1:{RECEIVER_PORT}")
    base = int(time.time()) % 100000
    documents = [
        _doc(base, ["000.00.02.H57"], "Về việc triển khai cải cách hành chính năm 2026",
             "Công văn", "UBND-NV"),
        _doc(base + 1, ["000.00.21.H57", "000.01.21.H57"],
             "Kế hoạch phòng chống thiên tai mùa mưa bão", "Kế hoạch", "KH-UBND", priority="2"),
        _doc(base + 2, ["000.00.23.H57", "000.01.23.H57", "000.00.02.H57"],
             "Quyết định phê duyệt danh mục dự án", "Quyết định", "QĐ-UBND"),
        _doc(base + 3, ["000.00.03.H57", "000.00.26.H57"],
             "Báo cáo tình hình thực hiện dự toán ngân sách", "Báo cáo", "BC-UBND"),
    ]
    client = httpx.Client(base_url=hub_url, timeout=30)
    sent: list[dict[str, Any]] = []
    for doc in documents:
        r = client.post("/api/v1/documents", json=doc,
                        headers={"Authorization": f"Bearer {PROVINCE_KEY}"})
        r.raise_for_status()
        sent.append({**r.json(), "subject": doc["subject"]})
        recipients = ", ".join(r.json()["recipients"])
        console.print(f"sent [bold]{doc['documentId']}[/bold] -> {recipients}")

    # pushed systems answer 01 (arrived) then 03 (registered)
    _wait(lambda: _pushes_done(ctx, sent), 30)
    sent_ids = {s["id"] for s in sent}
    with agencies.lock:
        pushed = [e for e in agencies.received
                  if e["kind"] == "document" and e["message_id"] in sent_ids]
    for entry in pushed:
        system, _ = SPEAKS_FOR[entry["system"]]
        if entry["content_type"].startswith("application/json"):
            doc_id = json.loads(entry["raw"])["documentId"]
        else:  # this system asked for edXML
            doc_id = edxml_to_json(entry["raw"])["documentId"]
        for code, text in (("01", "Đã đến"), ("03", "Đã vào sổ")):
            client.post("/api/v1/statuses", json=_status(doc_id, entry["recipient"],
                                                          "000.00.00.H57", code, text),
                        headers={"Authorization": f"Bearer {KEYS[system]}"}).raise_for_status()

    # the pulling district system polls, fetches, confirms and answers
    pull_auth = {"Authorization": f"Bearer {KEYS['qlvb-phong-dien']}"}
    items = client.get("/api/v1/inbox", headers=pull_auth).json()["items"]
    for item in items:
        client.get(f"/api/v1/inbox/{item['id']}", headers=pull_auth).raise_for_status()
        client.post(f"/api/v1/inbox/{item['id']}/ack", json={"result": "done"},
                    headers=pull_auth).raise_for_status()
        for recipient in item["recipients"]:
            client.post("/api/v1/statuses", json=_status(
                item["document_id"], recipient, "000.00.00.H57", "01", "Đã đến"),
                headers=pull_auth).raise_for_status()
    console.print(f"pull system qlvb-phong-dien fetched and confirmed {len(items)} message(s)")
    legacy = _legacy_soap_system(hub_url, base, console)
    sent.append(legacy)
    _wait(lambda: _statuses_delivered(agencies, 2 * len(pushed) + sum(
        len(i["recipients"]) for i in items) + 1), 30)
    _wait(lambda: _pushes_done(ctx, sent), 30)

    table = Table(title="What happened", show_lines=False)
    for col in ("document", "recipient", "system", "mode", "form", "delivery", "attempts",
                "statuses back"):
        table.add_column(col, no_wrap=True)
    province = None  # the operator's view: every message
    from hub.query import message_view

    for s in sent:
        record = message_view(ctx.db, settings, province, s["id"])
        statuses: dict[str, list[str]] = {}
        for h in record["status_history"]:
            statuses.setdefault(h["from"], []).append(h["status_code"])
        for d in record["deliveries"]:
            table.add_row(s["document_id"].split(",")[-1], d["recipient"],
                          d["system"].removeprefix("qlvb-"),
                          d["mode"], d["form"], d["state"], str(len(d["attempts"])),
                          " ".join(statuses.get(d["recipient"], [])) or "-")
    console.print(table)
    with agencies.lock:
        back = [e for e in agencies.received if e["kind"] == "status"]
    console.print(f"statuses delivered back to the province's system: {len(back)}")
    _directive_to_all(client, ctx, settings, agencies, base + 5, console)
    with ctx.db.reading() as session:
        report = verify(session)
    console.print(f"audit chain: {'intact' if report.ok else 'BROKEN'}, {report.events} events")
    if keep_serving:
        console.print(f"\nThe hub keeps serving at {hub_url}. Try:\n"
                      f"  curl -s {hub_url}/api/v1/messages/{sent[0]['id']} "
                      f"-H 'Authorization: Bearer {PROVINCE_KEY}'\n"
                      f"Ctrl-C stops it.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    hub_server.should_exit = True
    receivers.should_exit = True
    time.sleep(0.5)
    ctx.close()


def _directive_to_all(client: httpx.Client, ctx: HubContext, settings: Settings,
                      agencies: Agencies, number: int, console: Console) -> None:
    """One directive to the recipient group @all (the whole province): the hub expands it
    from the directory and every unit's system gets it once."""
    from hub.query import message_view

    directive = _doc(number, ["@all"], "Chỉ thị về tăng cường công tác phòng, chống thiên "
                     "tai năm 2026", "Chỉ thị", "CT-UBND", priority="1")
    r = client.post("/api/v1/documents", json=directive,
                    headers={"Authorization": f"Bearer {PROVINCE_KEY}"})
    r.raise_for_status()
    answer = r.json()
    [group] = answer["groups"]
    console.print(f"\nsent [bold]{directive['documentId']}[/bold] -> {group['code']} "
                  f"({group['name']}): {len(answer['recipients'])} units")
    _wait(lambda: _pushes_done(ctx, [answer]), 30)
    record = message_view(ctx.db, settings, None, answer["id"])
    for d in record["deliveries"]:
        org = ctx.directory.organization(d["recipient"])
        got = ("delivered" if d["state"] == "delivered" else d["state"]) \
            if d["mode"] == "push" else "waiting in its inbox"
        console.print(f"  {d['recipient']}  {org.name if org else '':<45} "
                      f"{d['system'].removeprefix('qlvb-'):<14} {d['mode']:<5} {got}",
                      soft_wrap=True)
    with agencies.lock:
        pushes = Counter(e["recipient"] for e in agencies.received
                         if e["message_id"] == answer["id"])
    once = all(n == 1 for n in pushes.values())
    console.print(f"pushes the simulated systems received for it: {sum(pushes.values())}, "
                  f"{'one per unit' if once else 'SOME UNITS MORE THAN ONCE'}")


def _legacy_soap_system(hub_url: str, base: int, console: Console) -> dict[str, Any]:
    """Hương Thủy's legacy software: SOAP 1.1 with a UsernameToken, edXML packages, polling.

    It picks up what waits for it, confirms receipt, answers with an edXML status, then sends
    a document of its own to the province (which receives it as JSON)."""
    import requests
    import zeep
    from zeep.transports import Transport
    from zeep.wsse.username import UsernameToken

    session = requests.Session()
    session.trust_env = False
    client = zeep.Client(f"{hub_url}/soap?wsdl", port_name="LienthongSoap11",
                         transport=Transport(session=session, timeout=30),
                         wsse=UsernameToken(LEGACY, KEYS[LEGACY]))
    pending = client.service.GetPendingDocumentIds() or []
    for item in pending:
        package = client.service.GetDocument(MessageId=item.MessageId)
        client.service.ConfirmReceived(MessageId=item.MessageId)
        doc_id = edxml_to_json(package.PackageBase64)["documentId"]
        status = _status(doc_id, "000.00.26.H57", "000.00.00.H57", "01", "Đã đến (hệ thống cũ)")
        client.service.SendStatus(PackageBase64=json_to_edxml(status))
    own = _doc(base + 4, ["000.00.00.H57"], "Báo cáo kết quả chuyển đổi số cấp xã",
               "Báo cáo", "BC-UBND")
    own["from"] = {"organId": "000.00.26.H57", "organName": "UBND thị xã Hương Thủy"}
    own["documentId"] = own["documentId"].replace("000.00.00.H57", "000.00.26.H57", 1)
    answer = client.service.SendDocument(PackageBase64=json_to_edxml(own))
    console.print(f"legacy SOAP system {LEGACY} pulled {len(pending)} edXML package(s), "
                  f"answered, and sent {own['documentId']} over SOAP")
    return {"id": answer.MessageId, "document_id": own["documentId"],
            "subject": own["subject"]}


def _wait(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)


def _pushes_done(ctx: HubContext, sent: list[dict[str, Any]]) -> bool:
    from sqlalchemy import func, select

    from hub.store.models import Delivery

    with ctx.db.reading() as session:
        waiting = session.scalar(
            select(func.count()).select_from(Delivery)
            .where(Delivery.message_id.in_([s["id"] for s in sent]),
                   Delivery.mode == "push", Delivery.state.not_in(("delivered", "dead"))))
    return waiting == 0


def _statuses_delivered(agencies: Agencies, expected: int) -> bool:
    with agencies.lock:
        return sum(1 for e in agencies.received if e["kind"] == "status") >= expected
