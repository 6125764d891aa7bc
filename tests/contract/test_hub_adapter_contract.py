"""The hub-to-hub adapter passes the adapter contract, and hands on the hops and its key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from adapters.base import Adapter, OutboundDelivery
from adapters.hub_forward import HubForwardAdapter
from adapters.testing import BUSY, REFUSE, SLOW, SYSTEM, UNREACHABLE, AdapterContract
from core.errors import AdapterMisconfigured, DeliveryRejected
from core.hops import Hop, parse_hops
from routing.directory import HubPeer, Receive
from security.egress import Egress
from tests.support import Receiver, free_port, run_receiver

DOCUMENTS = "/api/v1/documents"


class TestHubForward(AdapterContract):
    @pytest.fixture(autouse=True)
    def _receiver(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.setenv("LT_CONTRACT_PEER_KEY", "khoa-cua-truc-ban")
        with run_receiver() as receiver:
            self.receiver: Receiver = receiver
            yield

    def make_adapter(self, egress: Egress) -> Adapter:
        return HubForwardAdapter(egress)

    def endpoint(self, behaviour: str) -> Receive:
        peer = HubPeer(api_key_env="LT_CONTRACT_PEER_KEY")
        if behaviour == UNREACHABLE:
            return Receive(mode="push", adapter="hub", url=f"http://127.0.0.1:{free_port()}",
                           hub=peer)
        if behaviour in (BUSY, REFUSE):
            self.receiver.fail(DOCUMENTS, 503 if behaviour == BUSY else 422)
        if behaviour == SLOW:
            self.receiver.delay_s = 3.0
        return Receive(mode="push", adapter="hub", url=self.receiver.url, hub=peer)

    def delivered(self) -> list[bytes]:
        return [r.body for r in self.receiver.at(DOCUMENTS)]

    def message_ids(self) -> list[str]:
        return self.receiver.message_ids(DOCUMENTS)

    def misconfigured(self) -> Receive:
        return Receive(mode="push", adapter="hub", url="https://lgsp.phutho.invalid/api/v1/documents")


def outbound(url: str, kind: str, hops: tuple[Hop, ...], env: str | None) -> OutboundDelivery:
    return OutboundDelivery(
        message_id=str(uuid.uuid4()), delivery_id=str(uuid.uuid4()), kind=kind,
        sender="000.00.02.H44", recipient="000.00.00.H57", system_id=SYSTEM,
        document_id="000.00.00.H57,2026/11/27,1/QĐ-UBND", attempt=1, payload=b'{"x": 1}',
        media_type="application/json",
        endpoint=Receive(mode="push", adapter="hub", url=url,
                         hub=HubPeer(api_key_env=env) if env else None),
        hops=hops)


def test_a_status_goes_to_the_peers_statuses_with_the_hops_and_the_key(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LT_PEER_KEY", "khoa-bi-mat")
    hops = (Hop("000.00.00.H44", "2026-12-01T08:00:00Z", "m-1"),
            Hop("000.00.00.H57", "2026-12-01T08:00:02Z", "m-2"))
    with run_receiver() as receiver:
        egress = Egress({SYSTEM: [receiver.url]}, default_timeout=5.0)
        try:
            HubForwardAdapter(egress).deliver(outbound(receiver.url, "status", hops,
                                                       "LT_PEER_KEY"))
        finally:
            egress.close()
        [got] = receiver.at("/api/v1/statuses")
    assert got.headers["Authorization"] == "Bearer khoa-bi-mat"
    assert parse_hops(got.headers["X-Lienthong-Hops"]) == hops
    assert got.body == b'{"x": 1}'


def test_a_loop_refused_by_the_peer_is_a_permanent_refusal_naming_its_code() -> None:
    from tests.egress_support import run_server

    problem = (b'{"code": "federation_loop", "detail": "the package already passed '
               b'through this hub"}')
    with run_server(status=409, body=problem,
                    headers={"Content-Type": "application/problem+json"}) as peer:
        egress = Egress({SYSTEM: [peer.url]}, default_timeout=5.0)
        try:
            with pytest.raises(DeliveryRejected) as refused:
                HubForwardAdapter(egress).deliver(outbound(peer.url, "document", (), None))
        finally:
            egress.close()
    assert refused.value.code == "federation_loop"
    assert "409" in refused.value.detail


def test_a_key_variable_that_is_not_set_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LT_PEER_KEY_UNSET", raising=False)
    adapter = HubForwardAdapter(Egress({}))
    with pytest.raises(AdapterMisconfigured) as unnamed:
        adapter.check("hub-phu-tho", Receive(mode="push", adapter="hub",
                                             url="https://lgsp.phutho.invalid"))
    assert unnamed.value.code == "hub_api_key_missing"
    assert "receive.hub.api_key_env" in unnamed.value.detail
    with pytest.raises(AdapterMisconfigured) as refused:
        adapter.check("hub-phu-tho", Receive(mode="push", adapter="hub",
                                             url="https://lgsp.phutho.invalid",
                                             hub=HubPeer(api_key_env="LT_PEER_KEY_UNSET")))
    assert refused.value.code == "hub_api_key_missing"
    assert "hub-phu-tho" in refused.value.detail and "LT_PEER_KEY_UNSET" in refused.value.detail
