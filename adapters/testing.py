"""The adapter contract as tests: every adapter, built in or third-party, subclasses this.

    class TestMyAdapter(AdapterContract):
        def make_adapter(self, egress): return MyAdapter(egress)
        def endpoint(self, behaviour): ...   # a Receive whose receiver behaves so
        def delivered(self): ...             # payloads the receiver accepted, as bytes
        def misconfigured(self): ...         # optional: a Receive the adapter's check refuses

`behaviour` is one of ACCEPT, BUSY (the receiver is temporarily unable: a retry may work),
REFUSE (the receiver rejects this message for good), UNREACHABLE (nothing listens) and SLOW
(the receiver answers only after a few seconds: the kit sets `timeout_s` to 1 s).

Two more hooks: `message_ids()` (the hub message id the receiver was given with each
accepted payload, in order: a header, a field, a file name) and, for an adapter with an
options model, `invalid_options()` (a `receive.options` its model must refuse, and the
field it names).
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

import dataclasses
import re
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from adapters.base import (
    Adapter,
    Capabilities,
    ConfigurationCheck,
    DeliveryResult,
    OutboundDelivery,
    options_model_of,
    validate_options,
)
from adapters.registry import AdapterRegistry
from core.errors import AdapterMisconfigured, HubError, PermanentError, TransientError
from routing.directory import Receive, System
from security.egress import Egress, EgressDenied, EgressRefusal

ACCEPT, BUSY, REFUSE, UNREACHABLE = "accept", "busy", "refuse", "unreachable"
SLOW = "slow"
SYSTEM = "contract"
TIMEOUT_S = 1.0
# modules that open connections of their own: an adapter reaches the network through the
# egress gateway instead (a transport such as asyncssh may run over a socket it hands out)
OWN_NETWORK = ("socket", "ssl", "http", "httpx", "requests", "urllib3", "urllib.request",
               "aiohttp", "pycurl", "smtplib", "ftplib")


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

    def message_ids(self) -> list[str]:
        """The hub message id the receiver got with each accepted payload, in order."""
        raise NotImplementedError(
            "implement message_ids(): the hub message id your receiver was given with each "
            "accepted payload, so the kit can check receivers can de-duplicate")

    def invalid_options(self) -> tuple[dict[str, Any], str] | None:
        """`receive.options` the adapter's options model must refuse, and the field it
        names; None for an adapter without options."""
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

    def deliver(self, behaviour: str, *, registered_for: str | None = SYSTEM,
                endpoint: Receive | None = None, times: int = 1) -> DeliveryResult:
        """Deliver to an endpoint behaving so, its destinations registered for the system
        `registered_for` (None: for no system); `times` > 1 delivers the same message again
        (attempt 2, 3...), as the hub does when an answer was lost."""
        endpoint = endpoint or self.endpoint(behaviour)
        urls = [u for u in (endpoint.url, endpoint.soap.wsdl if endpoint.soap else None) if u]
        destinations = {registered_for: urls} if registered_for else {}
        egress = Egress(destinations, default_timeout=5.0, on_denied=self.refusals.append)
        adapter = self.make_adapter(egress)
        first = self.outbound(endpoint)
        try:
            result = adapter.deliver(first)
            for attempt in range(2, times + 1):
                result = adapter.deliver(dataclasses.replace(first, attempt=attempt))
            return result
        finally:
            adapter.close()
            egress.close()

    def expect(self, wanted: type[HubError], behaviour: str, fix: str,
               call: Callable[[], object] | None = None) -> HubError:
        """The error a delivery to a receiver behaving so raised, failing with `fix` when it
        is not a `wanted` (or nothing was raised)."""
        try:
            (call or (lambda: self.deliver(behaviour)))()
        except wanted as exc:
            assert exc.detail.strip(), (
                f"a {behaviour} receiver: {type(exc).__name__} has no detail; say what the "
                "receiver answered, for the attempt log")
            return exc
        except Exception as exc:  # noqa: BLE001 - reported as what to fix
            pytest.fail(f"a {behaviour} receiver: the adapter raised {type(exc).__name__}: "
                        f"{exc}; {fix}", pytrace=False)
        pytest.fail(f"a {behaviour} receiver: the adapter returned as if delivered; {fix}",
                    pytrace=False)


    # -- the contract -------------------------------------------------------------------
    def test_has_a_short_name(self) -> None:
        adapter = self.make_adapter(Egress())
        assert re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", adapter.name), (
            f"name {adapter.name!r}: a directory names the adapter (receive.adapter) by a "
            "short lower-case word: letters, digits, - and _, at most 32")

    def test_accepted_delivery_returns_and_arrives_unchanged(self) -> None:
        result = self.deliver(ACCEPT)
        assert isinstance(result, DeliveryResult)
        assert self.delivered() == [self.payload]

    def test_busy_receiver_is_transient(self) -> None:
        self.expect(TransientError, BUSY, "raise TransientError (core/errors.py) when trying "
                    "again later may work (5xx, 429, a busy answer): the hub retries it")
        assert self.delivered() == [], "a busy receiver kept the payload"

    def test_refusing_receiver_is_permanent(self) -> None:
        self.expect(PermanentError, REFUSE, "raise PermanentError, usually DeliveryRejected "
                    "(core/errors.py), when the receiver refuses this message for good: the "
                    "delivery becomes a dead letter at once")
        assert self.delivered() == [], "a refusing receiver kept the payload"

    def test_unreachable_receiver_is_transient(self) -> None:
        self.expect(TransientError, UNREACHABLE, "let the egress gateway's EgressUnreachable "
                    "propagate, or wrap a broken connection in TransientError: the hub "
                    "retries it")

    def test_a_slow_receiver_times_out_as_transient_within_timeout_s(self) -> None:
        endpoint = self.endpoint(SLOW).model_copy(update={"timeout_s": TIMEOUT_S})
        started = time.monotonic()
        self.expect(TransientError, SLOW, "bound every exchange by the system's "
                    "receive.timeout_s (or the gateway's default) and raise TransientError "
                    "when it runs out", lambda: self.deliver(SLOW, endpoint=endpoint))
        elapsed = time.monotonic() - started
        assert elapsed < TIMEOUT_S + 4, (
            f"a receiver slower than receive.timeout_s={TIMEOUT_S}s held the delivery "
            f"{elapsed:.1f}s; pass timeout=delivery.endpoint.timeout_s to the egress call")

    def test_a_delivered_again_message_carries_the_same_hub_message_id(self) -> None:
        # delivery is at-least-once: the hub sends again when an answer was lost, and the
        # receiver de-duplicates by the hub's message id
        self.deliver(ACCEPT, times=2)
        ids = self.message_ids()
        assert len(ids) == 2 and ids[0], (
            f"the receiver saw message ids {ids!r} for two attempts of one message; send "
            "delivery.message_id with every delivery (a header such as X-Lienthong-Message-Id, "
            "a field, a file name) so the receiver can de-duplicate")
        assert ids[0] == ids[1], (
            f"two attempts of one message reached the receiver as {ids!r}; send "
            "delivery.message_id (the same on every attempt), not delivery_id or a new id")

    def test_declares_its_contract(self) -> None:
        adapter = self.make_adapter(Egress())
        try:
            caps = getattr(adapter, "capabilities", None)
            assert isinstance(caps, Capabilities), (
                f"{type(adapter).__name__} declares no capabilities; add the class attribute "
                "`capabilities = Capabilities(push=True, forms=(...))` (adapters/base.py)")
            assert caps.push, "a delivery adapter declares Capabilities(push=True)"
            assert caps.forms and set(caps.forms) <= {"json", "edxml"}, (
                f"capabilities.forms {caps.forms!r}: name the forms delivered, json and/or edxml")
            assert hasattr(type(adapter), "options"), (
                f"{type(adapter).__name__} declares no `options`: set it to a pydantic model "
                "of receive.options, or to None when the adapter takes none")
        finally:
            adapter.close()

    def test_opens_no_connection_of_its_own(self) -> None:
        adapter = self.make_adapter(Egress())
        adapter.close()
        module = sys.modules[type(adapter).__module__]
        own = sorted({f"{name} ({where})" for name, value in vars(module).items()
                      if _own_network(where := _origin_of(value))})
        assert not own, (
            f"{module.__name__} uses {', '.join(own)}: reach the network only through the "
            "egress gateway the adapter is built with (egress.for_system(system_id)), never "
            "with a connection of its own (docs/adapters.md)")

    def test_its_options_model_refuses_wrong_options_naming_system_and_field(self) -> None:
        adapter = self.make_adapter(Egress())
        adapter.close()
        model = options_model_of(adapter)
        wrong = self.invalid_options()
        if model is None:
            assert wrong is None, "invalid_options() is given, but the adapter has no options"
            assert hasattr(adapter, "options"), (
                "declare `options = None` (it takes no receive.options) or an options model")
            # an adapter that takes no options refuses any a system gives it, naming both
            given = self.endpoint(ACCEPT).model_copy(update={"options": {"unexpected": "1"}})
            system = System(id="contract-system", organizations=(), receive=given)
            with pytest.raises(AdapterMisconfigured) as refused:
                AdapterRegistry.check_declared(adapter, system)
            assert "contract-system" in refused.value.detail
            assert "receive.options" in refused.value.detail
            return
        assert wrong is not None, (
            "the adapter has an options model: implement invalid_options() returning "
            "receive.options it must refuse and the field it names")
        options, field = wrong
        validate_options(model, SYSTEM, self.endpoint(ACCEPT))  # the working one passes
        receive = self.endpoint(ACCEPT).model_copy(update={"options": options})
        with pytest.raises(AdapterMisconfigured) as info:
            validate_options(model, "contract-system", receive)
        assert "contract-system" in info.value.detail
        assert f"receive.options.{field}" in [e.path for e in info.value.errors], (
            f"the refusal names {[e.path for e in info.value.errors]}, not "
            f"receive.options.{field}")

    def test_nothing_leaves_outside_the_egress_gateway(self) -> None:
        fix = ("send through egress.for_system(delivery.system_id), which refuses a "
               "destination not registered for the system, and let its EgressDenied propagate")
        info = self.expect(EgressDenied, "unregistered", fix,
                           lambda: self.deliver(ACCEPT, registered_for=None))
        assert self.delivered() == [], f"the payload arrived past the gateway; {fix}"
        # a receiver on a special address (loopback, private) is refused as such
        assert info.code in ("egress_not_registered", "egress_address_blocked")
        assert [r.system for r in self.refusals] == [SYSTEM]

    def test_reaches_only_its_own_systems_destinations(self) -> None:
        fix = ("send each delivery through egress.for_system(delivery.system_id), the scope "
               "of its own system, never a scope or a client kept from another system")
        info = self.expect(EgressDenied, "another system's", fix,
                           lambda: self.deliver(ACCEPT, registered_for="another-system"))
        assert info.code == "egress_other_system"
        assert self.delivered() == [], f"the payload arrived past the gateway; {fix}"
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


def _origin_of(value: object) -> str:
    """The module a name in an adapter's module comes from."""
    if type(value) is type(sys):
        return str(getattr(value, "__name__", ""))
    return str(getattr(value, "__module__", "") or "")


def _own_network(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in OWN_NETWORK)
