"""Push receivers on loopback that misbehave for a share of requests, and record the rest.

A receiving system answers 500, holds the request past the hub's timeout, or resets the
connection, each for a share of the attempts it is sent; a request it answers 200 is a
delivery it accepted, recorded with the headers the hub's adapters send (the hub's message
id, the Idempotency-Key, the attempt number). Misbehaviour stops from attempt
`faulty_attempts + 1` on, so a receiver alone can never push a delivery into the dead
letters: a dead letter in the fault test is the hub's doing.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support import free_port

OK, ERROR, TIMEOUT, RESET = "ok", "500", "timeout", "reset"


@dataclass(frozen=True)
class Copy:
    """One delivery a receiver accepted (answered 200)."""

    system: str
    message_id: str
    delivery_id: str  # the Idempotency-Key
    attempt: int
    recipient: str
    at: float  # time.monotonic()


@dataclass
class FaultShare:
    """How often a receiver misbehaves, and for how many attempts of a delivery."""

    error: float = 0.06
    timeout: float = 0.03
    reset: float = 0.06
    faulty_attempts: int = 3
    # how long a "timeout" holds the request: past the hub's delivery.timeout_s
    hold_s: float = 6.0

    def pick(self, rng: random.Random, attempt: int) -> str:
        if attempt > self.faulty_attempts:
            return OK
        x = rng.random()
        for outcome, share in ((ERROR, self.error), (TIMEOUT, self.timeout),
                               (RESET, self.reset)):
            if x < share:
                return outcome
            x -= share
        return OK


@dataclass
class Receivers:
    """One HTTP server per receiving system; `copies` is everything they accepted."""

    share: FaultShare
    urls: dict[str, str] = field(default_factory=dict)
    copies: list[Copy] = field(default_factory=list)
    served: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[Copy]:
        with self.lock:
            return list(self.copies)

    def count(self) -> int:
        with self.lock:
            return len(self.copies)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # a worker opens many connections at once; the default backlog of 5 drops some
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a worker killed mid-request drops its connections: expected here, not news
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def run_receivers(systems: list[str], share: FaultShare, seed: int = 9) -> Iterator[Receivers]:
    """Start a receiver per system (`urls[system]` its push URL); stop them on exit."""
    receivers = Receivers(share)
    rng = random.Random(seed)
    servers = []
    for system in systems:
        port = free_port()
        receivers.urls[system] = f"http://127.0.0.1:{port}/{system}"
        server = _Server(("127.0.0.1", port), _handler(system, receivers, rng))
        threading.Thread(target=server.serve_forever, daemon=True,
                         name=f"receiver-{system}").start()
        servers.append(server)
    try:
        yield receivers
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def _handler(system: str, receivers: Receivers, rng: random.Random) -> type:
    share = receivers.share

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            self.rfile.read(length)
            attempt = int(self.headers.get("X-Lienthong-Attempt", "1") or 1)
            with receivers.lock:
                outcome = share.pick(rng, attempt)
                receivers.served[outcome] += 1
            if outcome == TIMEOUT:
                time.sleep(share.hold_s)  # the hub gave up meanwhile: nothing is accepted
                self.close_connection = True
                return
            if outcome == RESET:
                # RST instead of FIN: linger on, with a zero timeout
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            status = 200 if outcome == OK else 500
            if status == 200:
                copy = Copy(system, self.headers.get("X-Lienthong-Message-Id", ""),
                            self.headers.get("Idempotency-Key", ""), attempt,
                            self.headers.get("X-Lienthong-Recipient", ""), time.monotonic())
                with receivers.lock:
                    receivers.copies.append(copy)
            payload = b'{"ok": true}' if status == 200 else b'{"error": "simulated"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler
