"""Saying that something the hub depends on went away, and came back, once each.

A database or broker outage fails every piece of work that needs it; logging each failure
with its traceback buries the one fact an operator needs (what is down, since when, what
waits) under hundreds of copies of it. An `Outage` logs the loss once (ERROR) and the return
once (WARNING) per change of state.
"""

from __future__ import annotations

import logging
import threading


def reason(exc: BaseException) -> str:
    """The underlying error's class and first line: enough to tell a refused connection
    from a timeout or a server that went away."""
    cause = exc.__cause__ or exc
    lines = str(cause).splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"[:300]


class Outage:
    """One dependency as seen from one place of one process; thread-safe."""

    def __init__(self, logger: logging.Logger, down: str, back: str) -> None:
        """`down` is logged with the failure's `reason` as its one %s argument."""
        self._log = logger
        self._down_message, self._back_message = down, back
        self._down = False
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self._down

    def failed(self, exc: BaseException) -> None:
        """Record a failure; log the loss if it is news."""
        with self._lock:
            news, self._down = not self._down, True
        if news:
            self._log.error(self._down_message, reason(exc))

    def answered(self) -> None:
        """Record a success; log the return if it was down."""
        if not self._down:  # the common case, without the lock
            return
        with self._lock:
            news, self._down = self._down, False
        if news:
            self._log.warning(self._back_message)
