"""A local SMTP server (aiosmtpd) that keeps what it is given and answers as told."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support import free_port


@dataclass
class Mailbox:
    """What the server accepted; `plan` holds the answers to give the next messages
    (`"451 ..."` try later, `"550 ..."` refused), then it accepts."""

    url: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    delay_s: float = 0.0  # every message is answered this late (a slow relay)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["X-Lienthong-Message-Id"] or "") for m in self.messages]

    def attachments(self) -> list[bytes]:
        with self.lock:
            return [part.get_payload(decode=True) for message in self.messages
                    for part in message.iter_attachments()]


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.box.delay_s:
            await asyncio.sleep(self.box.delay_s)
        with self.box.lock:
            if self.box.plan:
                return self.box.plan.pop(0)
            self.box.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.box.messages.append(email.message_from_bytes(
                envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"


@contextlib.contextmanager
def run_smtp(tls: ssl.SSLContext | None = None) -> Iterator[Mailbox]:
    """An SMTP server on loopback; with `tls`, smtps (TLS from the first byte)."""
    port = free_port()
    scheme = "smtps" if tls is not None else "smtp"
    box = Mailbox(url=f"{scheme}://127.0.0.1:{port}", port=port)
    controller = Controller(_Handler(box), hostname="127.0.0.1", port=port,
                            ssl_context=tls, server_hostname="lienthong-test")
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
