"""The adapter contract as tests: every adapter, built in or third-party, subclasses this.

    class TestMyAdapter(AdapterContract):
        def make_adapter(self, egress): return MyAdapter(egress)
        def endpoint(self, behaviour): ...   # a Receive whose receiver behaves so
        def delivered(self): ...             # payloads the receiver accepted, as bytes
        def misconfigured(self): ...         # optional: a Receive the adapter's check refuses

`behaviour` is one of ACCEPT, BUSY (the receiver is temporarily unable: a retry may work),
REFUSE (the receiver rejects this message for good) and UNREACHABLE (nothing listens).
The suite checks what the hub relies on: a return means delivered, TransientError means
try again, PermanentError means never, the payload arrives unchanged, every byte goes
out through the egress gateway, and an adapter with a configuration check (checked at
start-up) accepts a working configuration and refuses a broken one, naming the system and
the field.
"""

from __future__ import annotations

import re
import uuid
from typing import ClassVar

import pytest

from adapters.base import Adapter, ConfigurationCheck, DeliveryResult, OutboundDelivery
from core.errors import AdapterMisconfigured, PermanentError, TransientError
from routing.directory import Receive
from security.egress import Egress

ACCEPT, BUSY, REFUSE, UNREACHABLE = "accept", "busy", "refuse", "unreachable"


class AdapterContract:
    """Mix into a pytest test class; implement the three hooks below."""

    payload: ClassVar[bytes] = (
        '{"documentId": "000.00.00.H57,2026/11/27,1/QĐ-UBND", "subject": "Thử nghiệm"}'
    ).encode()
    media_type: ClassVar[str] = "application/json"

    # -- hooks --------------------------------------------------------------------------
    def make_adapter(self, egress: Egress) -> Adapter:
        raise NotImplementedError

    def endpoint(self, behaviour: str) -> Receive:
        raise NotImplementedError

    def delivered(self) -> list[bytes]:
        raise NotImplementedError

    def misconfigured(self) -> Receive | None:
        """A `receive` the adapter's configuration check must refuse; None without a check."""
        return None

    # -- helpers ------------------------------------------------------------------------
    def outbound(self, endpoint: Receive) -> OutboundDelivery:
        return OutboundDelivery(
            message_id=str(uuid.uuid4()), delivery_id=str(uuid.uuid4()), kind="document",
            sender="000.00.00.H57", recipient="000.00.21.H57", system_id="contract",
            document_id="000.00.00.H57,2026/11/27,1/QĐ-UBND", attempt=1,
            payload=self.payload, media_type=self.media_type, endpoint=endpoint)

    def deliver(self, behaviour: str, *, allow: bool = True) -> DeliveryResult:
        endpoint = self.endpoint(behaviour)
        urls = [u for u in (endpoint.url, endpoint.soap.wsdl if endpoint.soap else None) if u]
        egress = Egress(urls if allow else [], default_timeout=5.0)
        adapter = self.make_adapter(egress)
        try:
            return adapter.deliver(self.outbound(endpoint))
        finally:
            adapter.close()
            egress.close()

    # -- the contract -------------------------------------------------------------------
    def test_has_a_short_name(self) -> None:
        adapter = self.make_adapter(Egress([]))
        assert re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", adapter.name)

    def test_accepted_delivery_returns_and_arrives_unchanged(self) -> None:
        result = self.deliver(ACCEPT)
        assert isinstance(result, DeliveryResult)
        assert self.delivered() == [self.payload]

    def test_busy_receiver_is_transient(self) -> None:
        with pytest.raises(TransientError):
            self.deliver(BUSY)
        assert self.delivered() == []

    def test_refusing_receiver_is_permanent(self) -> None:
        with pytest.raises(PermanentError):
            self.deliver(REFUSE)
        assert self.delivered() == []

    def test_unreachable_receiver_is_transient(self) -> None:
        with pytest.raises(TransientError):
            self.deliver(UNREACHABLE)

    def test_nothing_leaves_outside_the_egress_gateway(self) -> None:
        with pytest.raises(PermanentError) as info:
            self.deliver(ACCEPT, allow=False)
        assert info.value.code == "egress_denied"
        assert self.delivered() == []

    def test_close_twice_is_harmless(self) -> None:
        adapter = self.make_adapter(Egress([]))
        adapter.close()
        adapter.close()

    def test_a_working_configuration_passes_the_check(self) -> None:
        adapter = self.make_adapter(Egress([]))
        try:
            if isinstance(adapter, ConfigurationCheck):
                adapter.check("contract", self.endpoint(ACCEPT))
        finally:
            adapter.close()

    def test_a_broken_configuration_is_refused_naming_system_and_field(self) -> None:
        receive = self.misconfigured()
        if receive is None:
            pytest.skip("the adapter has no configuration check")
        adapter = self.make_adapter(Egress([]))
        try:
            assert isinstance(adapter, ConfigurationCheck)
            with pytest.raises(AdapterMisconfigured) as info:
                adapter.check("contract-system", receive)
        finally:
            adapter.close()
        assert "contract-system" in info.value.detail
        assert "receive." in info.value.detail
