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
out through the egress gateway in the scope of the delivery's own system (a destination
registered for no system, or for another one, is refused), and an adapter with a
configuration check (checked at start-up) accepts a working configuration and refuses a
broken one, naming the system and the field.

The receivers of these tests listen on loopback; the gateway lets a delivery reach them
because the endpoint's URLs (`url`, `soap.wsdl`) are registered, literally, for the
delivery's system (`SYSTEM`), as the hub registers each system's `receive`.
"""

from __future__ import annotations

import re
import uuid
from typing import ClassVar

import pytest

from adapters.base import Adapter, ConfigurationCheck, DeliveryResult, OutboundDelivery
from core.errors import AdapterMisconfigured, PermanentError, TransientError
from routing.directory import Receive
from security.egress import Egress, EgressDenied, EgressRefusal

ACCEPT, BUSY, REFUSE, UNREACHABLE = "accept", "busy", "refuse", "unreachable"
SYSTEM = "contract"


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
    @pytest.fixture(autouse=True)
    def _refusals(self) -> None:
        # what the gateway refused during this test, as the hub would audit it
        self.refusals: list[EgressRefusal] = []

    def outbound(self, endpoint: Receive) -> OutboundDelivery:
        return OutboundDelivery(
            message_id=str(uuid.uuid4()), delivery_id=str(uuid.uuid4()), kind="document",
            sender="000.00.00.H57", recipient="000.00.21.H57", system_id=SYSTEM,
            document_id="000.00.00.H57,2026/11/27,1/QĐ-UBND", attempt=1,
            payload=self.payload, media_type=self.media_type, endpoint=endpoint)

    def deliver(self, behaviour: str, *, registered_for: str | None = SYSTEM
                ) -> DeliveryResult:
        """Deliver to an endpoint behaving so, its destinations registered for the system
        `registered_for` (None: for no system)."""
        endpoint = self.endpoint(behaviour)
        urls = [u for u in (endpoint.url, endpoint.soap.wsdl if endpoint.soap else None) if u]
        destinations = {registered_for: urls} if registered_for else {}
        egress = Egress(destinations, default_timeout=5.0, on_denied=self.refusals.append)
        adapter = self.make_adapter(egress)
        try:
            return adapter.deliver(self.outbound(endpoint))
        finally:
            adapter.close()
            egress.close()


    # -- the contract -------------------------------------------------------------------
    def test_has_a_short_name(self) -> None:
        adapter = self.make_adapter(Egress())
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
        with pytest.raises(EgressDenied) as info:
            self.deliver(ACCEPT, registered_for=None)
        # a receiver on a special address (loopback, private) is refused as such
        assert info.value.code in ("egress_not_registered", "egress_address_blocked")
        assert self.delivered() == []
        assert [r.system for r in self.refusals] == [SYSTEM]

    def test_reaches_only_its_own_systems_destinations(self) -> None:
        with pytest.raises(EgressDenied) as info:
            self.deliver(ACCEPT, registered_for="another-system")
        assert info.value.code == "egress_other_system"
        assert self.delivered() == []
        assert [(r.system, r.code) for r in self.refusals] == [(SYSTEM, "egress_other_system")]

    def test_close_twice_is_harmless(self) -> None:
        adapter = self.make_adapter(Egress())
        adapter.close()
        adapter.close()

    def test_a_working_configuration_passes_the_check(self) -> None:
        adapter = self.make_adapter(Egress())
        try:
            if isinstance(adapter, ConfigurationCheck):
                adapter.check("contract", self.endpoint(ACCEPT))
        finally:
            adapter.close()

    def test_a_broken_configuration_is_refused_naming_system_and_field(self) -> None:
        receive = self.misconfigured()
        if receive is None:
            pytest.skip("the adapter has no configuration check")
        adapter = self.make_adapter(Egress())
        try:
            assert isinstance(adapter, ConfigurationCheck)
            with pytest.raises(AdapterMisconfigured) as info:
                adapter.check("contract-system", receive)
        finally:
            adapter.close()
        assert "contract-system" in info.value.detail
        assert "receive." in info.value.detail
