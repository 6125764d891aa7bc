"""Senders as a real connected system behaves: several at once, spread over the API
processes, sending again (the same bytes, the same DocumentId) whatever got no answer, a 5xx
or a connection error, and waiting as told after a 429. Every answer is recorded with the
moment it came, so the report can say what senders saw during each fault."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

# what a sender can see, as the report counts it
ACCEPTED, DUPLICATE, LIMITED, SERVER_ERROR, CONNECTION, REFUSED = (
    "202", "200", "429", "5xx", "connection error", "4xx")
OUTCOMES = (ACCEPTED, DUPLICATE, LIMITED, SERVER_ERROR, CONNECTION, REFUSED)


@dataclass(frozen=True)
class Doc:
    """One document to send: who sends it, with which key, to whom, as which bytes."""

    number: int
    system: str
    key: str
    sender: str
    to: tuple[str, ...]
    document_id: str
    body: bytes


@dataclass(frozen=True)
class Seen:
    doc: int
    api: int
    at: float  # time.monotonic() when the answer (or the error) came
    outcome: str
    detail: str = ""


@dataclass(frozen=True)
class Answer:
    """The definitive answer a document got: 202 accepted, or 200 duplicate (a retry of a
    package whose first answer was lost), with the hub's message id and recipients."""

    status: int
    message_id: str
    recipients: tuple[str, ...]
    at: float


@dataclass
class Senders:
    """`threads` senders taking documents in order, paced at `rate` a second overall, and
    only as far as `release` lets them (the fault driver holds the next stage back until
    the fault in progress is over, so that every fault meets traffic)."""

    urls: list[str]
    docs: list[Doc]
    threads: int = 6
    rate: float = 20.0
    # how long one document may take to be answered, retries included
    patience_s: float = 120.0
    request_timeout_s: float = 20.0
    seen: list[Seen] = field(default_factory=list)
    answers: dict[int, Answer] = field(default_factory=dict)
    refused: dict[int, str] = field(default_factory=dict)
    unanswered: dict[int, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next: Any = field(default_factory=itertools.count)
    _threads: list[threading.Thread] = field(default_factory=list)
    _released: int = 0
    _gate: threading.Condition = field(default_factory=threading.Condition)
    _slot: float = 0.0
    started: float = 0.0

    def start(self, released: int) -> None:
        self.started = self._slot = time.monotonic()
        self.release(released)
        for n in range(self.threads):
            thread = threading.Thread(target=self._run, name=f"sender-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def release(self, upto: int) -> None:
        """Let the senders go on up to document `upto` (exclusive)."""
        with self._gate:
            self._released = max(self._released, upto)
            self._gate.notify_all()

    def done(self) -> bool:
        return not any(t.is_alive() for t in self._threads)

    def accepted(self) -> int:
        with self._lock:
            return len(self.answers)

    def answered(self) -> int:
        with self._lock:
            return len(self.answers) + len(self.refused) + len(self.unanswered)

    def seen_between(self, start: float, end: float) -> Counter[str]:
        with self._lock:
            return Counter(s.outcome for s in self.seen if start <= s.at <= end)

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def _run(self) -> None:
        with httpx.Client(timeout=self.request_timeout_s) as client:
            while True:
                with self._lock:
                    index = next(self._next)
                if index >= len(self.docs):
                    return
                with self._gate:
                    self._gate.wait_for(lambda index=index: index < self._released)
                    # pacing the load: one document every 1/rate s, never in a burst
                    self._slot = max(self._slot + 1 / self.rate, time.monotonic())
                    leaves = self._slot
                delay = leaves - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self._send(client, self.docs[index], first_api=index)

    def _send(self, client: httpx.Client, doc: Doc, first_api: int) -> None:
        deadline = time.monotonic() + self.patience_s
        headers = {"Authorization": f"Bearer {doc.key}", "Content-Type": "application/json"}
        for attempt in itertools.count():
            # a load balancer's choice: each try goes to the next API process
            api = (first_api + attempt) % len(self.urls)
            wait = min(2.0, 0.1 * 2 ** attempt)
            try:
                r = client.post(f"{self.urls[api]}/api/v1/documents", content=doc.body,
                                headers=headers)
            except httpx.HTTPError as exc:
                self._record(Seen(doc.number, api, time.monotonic(), CONNECTION,
                                  type(exc).__name__))
            else:
                now = time.monotonic()
                if r.status_code in (200, 202):
                    self._record(Seen(doc.number, api, now, str(r.status_code)))
                    data = r.json()
                    with self._lock:
                        self.answers[doc.number] = Answer(
                            r.status_code, data["id"], tuple(data.get("recipients", ())), now)
                    return
                if r.status_code == 429:
                    self._record(Seen(doc.number, api, now, LIMITED))
                    wait = float(r.headers.get("Retry-After", "1"))
                elif r.status_code >= 500:
                    self._record(Seen(doc.number, api, now, SERVER_ERROR,
                                      f"{r.status_code} {_code(r)}"))
                else:
                    self._record(Seen(doc.number, api, now, REFUSED, r.text[:300]))
                    with self._lock:
                        self.refused[doc.number] = f"{r.status_code}: {r.text[:300]}"
                    return
            if time.monotonic() + wait > deadline:
                with self._lock:
                    self.unanswered[doc.number] = (
                        f"no definitive answer within {self.patience_s:g} s, "
                        f"{attempt + 1} tries")
                return
            time.sleep(wait)  # a sender's backoff before sending the same package again


def _code(r: httpx.Response) -> str:
    try:
        return str(r.json().get("code", ""))
    except ValueError:
        return ""
