"""A fake national platform (VDXP) on loopback: the SDK's endpoints, signature checks, error
answers and outages, and what it was sent and told, for tests to read."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support import free_port, serving

PLATFORM_ID, PLATFORM_SECRET = "000.00.00.H57.lgsp", "platform-secret-for-tests"
SECRET_ENV = "LIENTHONG_TEST_VDXP_SECRET"


@dataclass
class Waiting:
    """An item waiting at the platform for the province."""

    id: str
    messagetype: str  # edoc | status
    payload: bytes
    sender: str
    ack: str | None = None  # done | fail
    reason: str = ""


@dataclass
class Sent:
    """A package the province uploaded."""

    headers: dict[str, str]
    edxml: bytes
    doc_id: str
    filename: str = ""  # the uploaded file's name (the hub names it by its message id)


@dataclass
class Platform:
    url: str
    secret: str = PLATFORM_SECRET
    sent: list[Sent] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    # every request: (operation, HTTP status answered)
    calls: list[tuple[str, int]] = field(default_factory=list)
    # operation -> statuses to answer next (503: outage, 200 with FAIL: a refusal...)
    fail_plan: dict[str, list[int]] = field(default_factory=dict)
    down: bool = False  # every request answered 503
    delay_s: float = 0.0  # every answer waits this long (a slow platform)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def offer(self, payload: bytes, messagetype: str = "edoc", sender: str = "") -> str:
        """Put a package in the province's queue at the platform; returns its id."""
        item = Waiting(str(uuid.uuid4()), messagetype, payload, sender)
        with self.lock:
            self.waiting.append(item)
        return item.id

    def item(self, item_id: str) -> Waiting:
        with self.lock:
            return next(w for w in self.waiting if w.id == item_id)

    def fail(self, operation: str, *statuses: int) -> None:
        with self.lock:
            self.fail_plan[operation] = list(statuses)

    def count(self, operation: str, status: int | None = None) -> int:
        with self.lock:
            return sum(1 for op, st in self.calls
                       if op == operation and (status is None or st == status))


def _answer(status: str = "OK", **more: Any) -> dict[str, Any]:
    return {"status": status, "ErrorCode": "0" if status == "OK" else more.pop("code", "1"),
            "ErrorDesc": more.pop("desc", ""), **more}


@contextlib.contextmanager
def run_platform() -> Iterator[Platform]:
    port = free_port()
    platform = Platform(url=f"http://127.0.0.1:{port}/vxp")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            operation = self.path.rsplit("/", 1)[-1]
            if platform.delay_s:
                time.sleep(platform.delay_s)
            status, answer = self._handle(operation, body)
            with platform.lock:
                platform.calls.append((operation, status))
            data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, operation: str, body: bytes) -> tuple[int, dict[str, Any]]:
            with platform.lock:
                if platform.down:
                    return 503, _answer("FAIL", code="503", desc="bảo trì")
                plan = platform.fail_plan.get(operation)
                planned = plan.pop(0) if plan else None
            if planned is not None and planned != 200:
                return planned, _answer("FAIL", code=str(planned), desc="simulated")
            if planned == 200:  # a refusal in a 200 answer, as the platform gives them
                return 200, _answer("FAIL", code="E_REFUSED", desc="simulated refusal")
            h = self.headers
            expected = hmac.new(platform.secret.encode(), (
                h.get("systemid", "") + h.get("timestamp", "") + h.get("Content-Type", "")
            ).encode() + body, hashlib.sha256).hexdigest()
            if h.get("systemid") != PLATFORM_ID or not hmac.compare_digest(
                    expected, h.get("signature", "")):
                return 401, _answer("FAIL", code="E_SIGNATURE", desc="chữ ký không hợp lệ")
            if operation == "sendEdoc":
                return self._send(body)
            if operation == "getReceivedEdocList":
                with platform.lock:
                    data = [{"id": w.id, "from": w.sender, "messagetype": w.messagetype}
                            for w in platform.waiting
                            if w.ack is None and w.messagetype == h.get("messagetype")]
                return 200, _answer(data=data)
            if operation == "getEdoc":
                with platform.lock:
                    found = [w for w in platform.waiting if w.id == h.get("docId")]
                if not found:
                    return 200, _answer("FAIL", code="E_NOTFOUND", desc="không tìm thấy")
                return 200, _answer(data=base64.b64encode(found[0].payload).decode())
            if operation == "updateStatus":
                with platform.lock:
                    found = [w for w in platform.waiting if w.id == h.get("docId")]
                    if not found or h.get("status") not in ("done", "fail"):
                        return 200, _answer("FAIL", code="E_NOTFOUND", desc="không tìm thấy")
                    found[0].ack = h.get("status")
                    found[0].reason = json.loads(body or b"{}").get("reason", "")
                return 200, _answer()
            return 404, _answer("FAIL", code="E_OPERATION", desc=operation)

        def _send(self, body: bytes) -> tuple[int, dict[str, Any]]:
            message = BytesParser(policy=HTTP).parsebytes(
                f"Content-Type: {self.headers.get('Content-Type')}\r\n\r\n".encode() + body)
            parts = [p for p in message.iter_parts() if p.get_filename()]
            files = [p.get_payload(decode=True) for p in parts]
            if len(files) != 1 or not isinstance(files[0], bytes):
                return 400, _answer("FAIL", code="E_FILE", desc="thiếu tệp edxml")
            doc_id = str(uuid.uuid4())
            with platform.lock:
                platform.sent.append(Sent(dict(self.headers), files[0], doc_id,
                                          str(parts[0].get_filename())))
            return 200, _answer(DocId=doc_id)

    with serving(port, Handler):
        yield platform
