"""The kit run against the broken adapter (collected only when named: every test here fails,
and tests/contract/test_kit_catches_a_broken_adapter.py checks how)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.base import Adapter
from adapters.testing import BUSY, REFUSE, SLOW, UNREACHABLE, AdapterContract
from routing.directory import Receive
from security.egress import Egress
from tests.contract.broken_adapter import BrokenAdapter
from tests.support import Receiver, free_port, run_receiver


class TestBroken(AdapterContract):
    @pytest.fixture(autouse=True)
    def _receiver(self) -> Iterator[None]:
        with run_receiver() as receiver:
            self.receiver: Receiver = receiver
            yield

    def make_adapter(self, egress: Egress) -> Adapter:
        return BrokenAdapter(egress)

    def endpoint(self, behaviour: str) -> Receive:
        if behaviour == UNREACHABLE:
            return Receive(mode="push", url=f"http://127.0.0.1:{free_port()}/in")
        if behaviour in (BUSY, REFUSE):
            self.receiver.fail("/in", 503 if behaviour == BUSY else 400)
        if behaviour == SLOW:
            self.receiver.delay_s = 3.0
        return Receive(mode="push", url=f"{self.receiver.url}/in")

    def delivered(self) -> list[bytes]:
        return [r.body for r in self.receiver.at("/in")]

    def message_ids(self) -> list[str]:
        return self.receiver.message_ids("/in")
