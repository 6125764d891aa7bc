"""The audit of refused requests: one event per refusal, except floods, which are summed.

A refusal by an identified caller (a bad package, a forbidden read) is one event. The
refusals an attacker can repeat for free (unknown or malformed credentials, rate limits,
oversize headers) are summed per source address, channel and code: the first of a window
is written at once, so a single wrong key is visible immediately, and the rest of the
window becomes one event carrying the count when the window closes. A flood of 2,000 bad
keys thus writes two rows, not 2,000, and never competes with accepted documents for the
chain's lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.errors import (
    AuthenticationFailed,
    HeadersTooLarge,
    HubError,
    RateLimited,
    RefusedByRule,
)
from security.audit import PendingEvent

log = logging.getLogger(__name__)
REJECTED = "message.rejected"
SUMMED = (AuthenticationFailed, RateLimited, HeadersTooLarge)
MAX_NAMES = 10


@dataclass
class _Window:
    opened: float
    actor: str
    first: dict[str, object]
    count: int = 0
    claimed: set[str] = field(default_factory=set)
    where: set[str] = field(default_factory=set)


class RefusalLog:
    """Writes refusal events through `write` (the group commit); a thread closes windows."""

    def __init__(self, write: Callable[[list[PendingEvent]], None], window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._write = write
        self.window_s = window_s
        self._clock = clock
        self._windows: dict[tuple[str, str, str], _Window] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refuse(self, channel: str, exc: HubError, *, actor: str | None, source: str,
               where: str = "", sha256: str | None = None,
               organizations: tuple[str, ...] | list[str] = ()) -> None:
        """Audit one refusal (summed when it is of the kind a flood repeats).

        Raises HubError when the audit store refuses the write.
        """
        detail: dict[str, object] = {
            "channel": channel,
            "code": exc.code,
            "status": exc.http_status,
            "reason": exc.detail,
            "paths": [e.path for e in exc.errors][:50],
            "source": source,
        }
        if where:
            detail["where"] = where[:200]
        if isinstance(exc, RefusedByRule):
            detail["rule"] = exc.rule
        claimed = exc.claimed if isinstance(exc, AuthenticationFailed) else None
        if claimed:
            detail["claimed_identity"] = claimed[:64]
        who = actor or "unauthenticated"
        if not isinstance(exc, SUMMED):
            self._write([PendingEvent(REJECTED, actor=who, detail=detail, sha256=sha256,
                                      organizations=tuple(organizations))])
            return
        key = (who if actor else source, channel, exc.code)
        with self._lock:
            window = self._windows.get(key)
            if window is not None:
                window.count += 1
                if claimed and len(window.claimed) < MAX_NAMES:
                    window.claimed.add(claimed[:64])
                if where and len(window.where) < MAX_NAMES:
                    window.where.add(where[:200])
                return
            self._windows[key] = _Window(self._clock(), who, detail)
        self._ensure_thread()
        self._write([PendingEvent(REJECTED, actor=who, detail={**detail, "count": 1})])

    def flush(self, *, everything: bool = False) -> int:
        """Write one event per closed window that counted repeats; returns how many.

        Never raises: a failed write is logged and its counts are lost with it.
        """
        now = self._clock()
        events: list[PendingEvent] = []
        with self._lock:
            for key, window in list(self._windows.items()):
                if not everything and now - window.opened < self.window_s:
                    continue
                del self._windows[key]
                if window.count:
                    detail = {**window.first, "count": window.count,
                              "window_s": round(now - window.opened, 3),
                              "claimed_identities": sorted(window.claimed),
                              "where_seen": sorted(window.where)}
                    detail.pop("claimed_identity", None)
                    events.append(PendingEvent(REJECTED, actor=window.actor, detail=detail))
        if events:
            try:
                self._write(events)
            except HubError:
                log.exception("could not audit %d summed refusals", len(events))
        return len(events)

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                     name="lienthong-refusals")
                    self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(max(0.05, self.window_s / 4)):
            self.flush()

    def close(self) -> None:
        """Stop the thread and write every open window's count."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush(everything=True)
