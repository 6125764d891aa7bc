"""Test support: real loopback receivers, a live hub on a free port, directories, packages."""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import uvicorn

from core.settings import Settings
from hub.app import create_app
from hub.context import HubContext
from routing.directory import Directory
from security.audit_tables import AuditEvent

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus" / "edxml"


def key_hash(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.05,
               what: str = "condition", progress: Callable[[], object] | None = None) -> None:
    """Return as soon as `predicate()` holds; fail after `timeout` seconds, saying `what` was
    awaited and, when given, how far it got (`progress()`)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    got = f" (got {progress()})" if progress is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{got}")


def holds_for(predicate: Callable[[], object], seconds: float, interval: float = 0.05,
              what: str = "condition") -> None:
    """A deliberate negative check: `predicate()` must stay true for `seconds` (it watches
    for something that must not happen, so it always takes the whole time)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert predicate(), f"{what} stopped holding"
        time.sleep(interval)
    assert predicate(), f"{what} stopped holding"


def said(output: str) -> str:
    """What a command printed, with the console's line wrapping undone (it wraps at the
    terminal width, so a long temporary path moves words onto the next line)."""
    return " ".join(output.split())


# -- a real HTTP receiver on loopback --------------------------------------------------------
@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records every POST; can fail the first N requests per path with a status code."""

    url: str
    received: list[Received] = field(default_factory=list)
    fail_plan: dict[str, list[int]] = field(default_factory=dict)
    delay_s: float = 0.0
    # cleared, every request waits (unrecorded, unanswered) until it is set again
    gate: threading.Event = field(default_factory=lambda: _opened(threading.Event()))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def message_ids(self, path: str | None = None) -> list[str]:
        with self.lock:
            return [r.headers.get("X-Lienthong-Message-Id", "") for r in self.received
                    if path is None or r.path == path]

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def fail(self, path: str, *statuses: int) -> None:
        with self.lock:
            self.fail_plan[path] = list(statuses)


def _opened(event: threading.Event) -> threading.Event:
    event.set()
    return event


@contextlib.contextmanager
def serving(port: int, handler: type[BaseHTTPRequestHandler]) -> Iterator[None]:
    """A threaded HTTP server on loopback `port` for the `with` block, then shut down."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def run_receiver() -> Iterator[Receiver]:
    port = free_port()
    receiver = Receiver(url=f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            receiver.gate.wait(timeout=60)
            if receiver.delay_s:
                time.sleep(receiver.delay_s)
            with receiver.lock:
                plan = receiver.fail_plan.get(self.path)
                status = plan.pop(0) if plan else 200
                if status == 200:
                    receiver.received.append(Received(self.path, dict(self.headers), body))
            payload = b'{"ok": true}' if status == 200 else b'{"error": "simulated"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    with serving(port, Handler):
        try:
            yield receiver
        finally:
            receiver.gate.set()  # held requests end before the server shuts down


# -- a live hub ------------------------------------------------------------------------------
@dataclass
class LiveHub:
    url: str
    ctx: HubContext


@contextlib.contextmanager
def run_hub(settings: Settings, directory: Directory | None, *, port: int | None = None,
            **tls: Any) -> Iterator[LiveHub]:
    """The real app under uvicorn on a free loopback port (or `port`), in a thread. With
    `directory` None the hub reads (and reloads) the settings' directory file. `tls` is
    uvicorn's ssl_* options (ssl_certfile, ssl_keyfile, ssl_ca_certs, ssl_cert_reqs): the
    hub then answers HTTPS only."""
    ctx = HubContext.build(settings, directory=directory)
    app = create_app(settings, context=ctx)
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on", **tls)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, timeout=20, what="uvicorn to start")
        scheme = "https" if tls.get("ssl_certfile") else "http"
        yield LiveHub(f"{scheme}://127.0.0.1:{port}", ctx)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        ctx.close()


# -- the audit trail, as tests read it ------------------------------------------------------
def last_seq(hub: LiveHub) -> int:
    """The newest audit event's position (0 for an empty chain)."""
    from sqlalchemy import func, select

    with hub.ctx.db.reading() as session:
        return session.scalar(select(func.max(AuditEvent.seq))) or 0


def events_after(hub: LiveHub, seq: int) -> list[dict[str, Any]]:
    """The audit events after `seq`, each its searchable columns with its detail over them."""
    from sqlalchemy import select

    with hub.ctx.db.reading() as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.seq > seq)
                               .order_by(AuditEvent.seq)).scalars().all()
        return [{"event": r.event, "actor": r.actor, "message_id": r.message_id,
                 "sha256": r.sha256, **json.loads(r.detail)} for r in rows]


def close_windows(hub: LiveHub) -> None:
    """Write out the summed refusals of unknown callers, so the next one is written at once."""
    assert hub.ctx.refusals is not None
    hub.ctx.refusals.flush(everything=True)


# -- directories -----------------------------------------------------------------------------
PROVINCE, DEPARTMENT, DISTRICT, COMMUNE = (
    "000.00.00.H57", "000.00.02.H57", "000.00.21.H57", "000.01.21.H57")
KEYS = {"province": "key-province", "department": "key-department", "district": "key-district",
        "commune": "key-commune", "other": "key-other"}


def hue_directory(receiver_url: str, *, edxml_department: bool = False) -> Directory:
    """Province and department push to the receiver; the district pulls; the commune pushes."""
    return Directory.from_dict(hue_directory_data(receiver_url,
                                                  edxml_department=edxml_department))


def hue_directory_data(receiver_url: str, *, edxml_department: bool = False
                       ) -> dict[str, Any]:
    """hue_directory as the contents of a directory file."""
    orgs = [
        {"code": PROVINCE, "name": "UBND thành phố Huế", "level": "province"},
        {"code": DEPARTMENT, "name": "Sở Nội vụ", "level": "department", "parent": PROVINCE},
        {"code": DISTRICT, "name": "UBND huyện Phong Điền", "level": "district",
         "parent": PROVINCE, "aliases": ["000.00.91.H57"]},
        {"code": COMMUNE, "name": "UBND xã Phong Thu", "level": "commune", "parent": DISTRICT},
        {"code": "000.00.05.H57", "name": "Sở Y tế", "level": "department", "parent": PROVINCE},
    ]
    systems = [
        {"id": "province", "organizations": [PROVINCE],
         "api_key_hashes": [key_hash(KEYS["province"])],
         "receive": {"mode": "push", "url": f"{receiver_url}/province"}},
        {"id": "department", "organizations": [DEPARTMENT],
         "api_key_hashes": [key_hash(KEYS["department"])],
         "receive": {"mode": "push", "url": f"{receiver_url}/department",
                     "format": "edxml" if edxml_department else "json"}},
        {"id": "district", "organizations": [DISTRICT],
         "api_key_hashes": [key_hash(KEYS["district"])],
         "receive": {"mode": "pull"}},
        {"id": "commune", "organizations": [COMMUNE],
         "api_key_hashes": [key_hash(KEYS["commune"])],
         "receive": {"mode": "push", "url": f"{receiver_url}/commune"}},
        {"id": "other", "organizations": ["000.00.05.H57"],
         "api_key_hashes": [key_hash(KEYS["other"])], "receive": {"mode": "pull"}},
    ]
    return {"organizations": orgs, "systems": systems}


def write_directory(path: Path, data: dict[str, Any]) -> str:
    """Write a directory file atomically (as `orgs import` does); returns its SHA-256."""
    import os

    import yaml

    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode("utf-8")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(text)
    os.replace(tmp, path)
    return hashlib.sha256(text).hexdigest()


def document(number: int = 15, to: tuple[str, ...] = (DEPARTMENT, DISTRICT, COMMUNE),
             sender: str = PROVINCE, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "from": {"organId": sender, "organName": "UBND thành phố Huế"},
        "to": [{"organId": code} for code in to],
        "documentId": f"{sender},2026/11/27,{number}/QĐ-UBND",
        "code": {"codeNumber": str(number), "codeNotation": "QĐ-UBND"},
        "promulgationInfo": {"place": "Huế", "promulgationDate": "2026/11/27"},
        "documentType": {"type": "2", "typeName": "Quyết định"},
        "subject": f"Quyết định số {number} về việc thử nghiệm liên thông",
        "content": "Nội dung",
        "otherInfo": {"priority": "0"},
    }
    doc.update(over)
    return doc


def status(document_id: str, sender: str, to: str, code: str = "01") -> dict[str, Any]:
    return {
        "from": {"organId": sender},
        "responseFor": {"organId": to, "documentId": document_id},
        "statusCode": code,
        "description": "Đã đến",
        "timestamp": "2026/11/27 09:30:00",
    }


def body(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")
