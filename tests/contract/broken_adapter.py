"""A deliberately broken adapter: everything the kit exists to catch, in one class.

Not an example to follow. It posts with its own HTTP client (past the egress gateway),
swallows a busy answer, lets raw exceptions out, waits forever on a slow receiver, sends a
fresh id with every attempt, and declares neither capabilities nor options.
"""

from __future__ import annotations

import uuid

import httpx

from adapters.base import DeliveryResult, OutboundDelivery
from security.egress import Egress


class BrokenAdapter:
    name = "Broken Adapter"

    def __init__(self, egress: Egress) -> None:
        self._client = httpx.Client(timeout=None)

    def deliver(self, delivery: OutboundDelivery) -> DeliveryResult:
        url = delivery.endpoint.url or ""
        response = self._client.post(url, content=delivery.payload, headers={
            "X-Lienthong-Message-Id": str(uuid.uuid4())})
        if response.status_code == 400:
            raise ValueError(f"bad status {response.status_code}")
        return DeliveryResult("sent")

    def close(self) -> None:
        self._client.close()
