"""An in-memory adapter for tests: records deliveries, fails on demand."""

from __future__ import annotations

import threading
from collections.abc import Callable

from adapters.base import DeliveryResult, OutboundDelivery
from core.errors import TransientError


class MemoryAdapter:
    name = "memory"

    def __init__(self, fail_first: int = 0, error: Callable[[], Exception] | None = None) -> None:
        self.delivered: list[OutboundDelivery] = []
        self._fail_first = fail_first
        self._error = error or (lambda: TransientError("simulated outage"))
        self._lock = threading.Lock()
        self.calls = 0

    def deliver(self, delivery: OutboundDelivery) -> DeliveryResult:
        with self._lock:
            self.calls += 1
            if self.calls <= self._fail_first:
                raise self._error()
            self.delivered.append(delivery)
        return DeliveryResult("stored in memory")

    def close(self) -> None:
        pass
