"""Inbound polling on SQLite with an in-memory polled system: what is stored is acknowledged
done, what is refused fail with the reason, nothing is acknowledged before it is stored, and
a system whose adapter cannot poll stops the start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.base import DeliveryResult, Fetched, Inbound, OutboundDelivery
from adapters.memory import MemoryAdapter
from adapters.registry import AdapterRegistry
from core.errors import AdapterMisconfigured, PermanentError, TransientError
from core.settings import Settings
from hub.context import HubContext
from hub.polling import Round
from hub.query import message_view
from routing.directory import Directory, Receive
from security.egress import Egress
from tests.support import body, document, key_hash, status

PROVINCE, DEPARTMENT, OUTSIDE = "000.00.00.H57", "000.00.02.H57", "000.00.00.H41"


class MemoryPoller:
    """A polled system in memory: items waiting, the receipts it was given, failures on cue."""

    name = "polled"

    def __init__(self) -> None:
        self.waiting: dict[str, tuple[str, bytes]] = {}
        self.receipts: list[tuple[str, str, str]] = []
        self.fail_fetch = 0
        self.fail_ack = 0
        self.refuse_listing = False

    def offer(self, ref: str, package: bytes, kind: str = "document") -> None:
        self.waiting[ref] = (kind, package)

    def deliver(self, delivery: OutboundDelivery) -> DeliveryResult:
        return DeliveryResult("kept")

    def poll(self, system_id: str, receive: Receive) -> list[Inbound]:
        if self.refuse_listing:
            raise PermanentError("signature refused", code="vdxp_refused")
        return [Inbound(ref, kind) for ref, (kind, _) in self.waiting.items()]

    def fetch(self, system_id: str, receive: Receive, item: Inbound) -> Fetched:
        if self.fail_fetch:
            self.fail_fetch -= 1
            raise TransientError("the system is down")
        kind, package = self.waiting[item.ref]
        return Fetched(item.ref, kind, package, "application/json")

    def acknowledge(self, system_id: str, receive: Receive, item: Inbound, result: str,
                    reason: str = "") -> None:
        if self.fail_ack:
            self.fail_ack -= 1
            raise TransientError("the receipt was lost")
        self.receipts.append((item.ref, result, reason))
        del self.waiting[item.ref]

    def close(self) -> None:
        pass


def directory(adapter: str = "polled") -> Directory:
    return Directory.from_dict({
        "organizations": [{"code": PROVINCE, "name": "Tỉnh", "level": "province"},
                          {"code": DEPARTMENT, "name": "Sở", "level": "department",
                           "parent": PROVINCE}],
        "systems": [
            {"id": "tinh", "organizations": [PROVINCE], "api_key_hashes": [key_hash("k")]},
            {"id": "so", "organizations": [DEPARTMENT], "receive": {"mode": "pull"}},
            {"id": "national", "organizations": [], "sends": {"outside": True},
             "receive": {"mode": "push", "adapter": adapter, "url": "http://vdxp.invalid/",
                         "poll_interval_s": 60}},
        ]})


def build(tmp_path: Path, adapter: object, name: str = "polled") -> HubContext:
    registry = AdapterRegistry(Egress(), factories={})
    registry.register(name, adapter)  # type: ignore[arg-type]
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", embedded_worker=False)
    return HubContext.build(settings, directory=directory(name), adapters=registry)


@pytest.fixture
def polled() -> MemoryPoller:
    return MemoryPoller()


@pytest.fixture
def ctx(tmp_path: Path, polled: MemoryPoller) -> Iterator[HubContext]:
    hub = build(tmp_path, polled)
    yield hub
    hub.close()


def outside_document(number: int) -> bytes:
    return body(document(number, to=(DEPARTMENT,), sender=OUTSIDE))


def poll(ctx: HubContext) -> Round:
    assert ctx.poller is not None
    return ctx.poller.poll("national")


def test_a_stored_item_is_acknowledged_done_and_comes_from_the_polled_system(
        ctx: HubContext, polled: MemoryPoller) -> None:
    polled.offer("a1", outside_document(1))
    done = poll(ctx)
    assert (done.listed, len(done.stored), done.refused) == (1, 1, [])
    assert polled.receipts == [("a1", "done", "")]
    view = message_view(ctx.db, ctx.settings, None, done.stored[0])
    assert (view["channel"], view["sender_system"]) == ("poll", "national")
    assert [d["recipient"] for d in view["deliveries"]] == [DEPARTMENT]


def test_a_refused_item_is_acknowledged_fail_with_the_code_and_nothing_is_stored(
        ctx: HubContext, polled: MemoryPoller) -> None:
    # the outside system cannot speak for a unit of the province
    polled.offer("forged", body(document(2, to=(DEPARTMENT,), sender=PROVINCE)))
    polled.offer("junk", b"{not json")
    done = poll(ctx)
    assert done.stored == []
    assert done.refused == [("forged", "sender_not_served"), ("junk", "json_malformed")]
    assert [(ref, result, reason.split(":")[0]) for ref, result, reason in polled.receipts] == [
        ("forged", "fail", "sender_not_served"), ("junk", "fail", "json_malformed")]
    assert "does not serve sender 000.00.00.H57" in polled.receipts[0][2]


def test_nothing_is_acknowledged_before_it_is_stored_and_an_outage_ends_the_round(
        ctx: HubContext, polled: MemoryPoller) -> None:
    polled.offer("b1", outside_document(3))
    polled.offer("b2", outside_document(4))
    polled.fail_fetch = 1
    down = poll(ctx)
    assert down.interrupted.startswith("fetching b1") and down.stored == []
    assert polled.receipts == []
    back = poll(ctx)
    assert len(back.stored) == 2
    assert [(ref, result) for ref, result, _ in polled.receipts] == [("b1", "done"),
                                                                     ("b2", "done")]
    counted = {outcome: ctx.metrics.registry.get_sample_value(
        "lienthong_polled_items_total", {"system": "national", "outcome": outcome})
        for outcome in ("stored", "interrupted")}
    assert counted == {"stored": 2.0, "interrupted": 1.0}


def test_a_refused_listing_ends_the_round_and_touches_nothing(
        ctx: HubContext, polled: MemoryPoller) -> None:
    polled.offer("d1", outside_document(7))
    polled.refuse_listing = True
    refused = poll(ctx)
    assert (refused.listed, refused.interrupted) == (0, "listing: signature refused")
    assert polled.receipts == [] and "d1" in polled.waiting


def test_a_lost_receipt_brings_the_item_back_as_a_duplicate_then_done(
        ctx: HubContext, polled: MemoryPoller) -> None:
    polled.offer("c1", outside_document(5))
    polled.fail_ack = 1
    first = poll(ctx)
    assert len(first.stored) == 1 and first.interrupted.startswith("acknowledging c1")
    assert polled.receipts == []
    again = poll(ctx)
    assert again.stored == [] and again.duplicates == first.stored
    assert polled.receipts == [("c1", "done", "")]


def test_a_status_from_outside_is_taken_as_the_outside_units_and_checked_like_any(
        ctx: HubContext, polled: MemoryPoller) -> None:
    # sends.outside lets the status through authorisation; the hub never saw the document
    # it answers, so it is refused for that (not as a forgery), and told so
    polled.offer("s1", body(status("000.00.00.H57,2026/11/27,6/QĐ-UBND", OUTSIDE, PROVINCE)),
                 "status")
    done = poll(ctx)
    assert done.refused == [("s1", "unknown_document")]
    assert polled.receipts[0][:2] == ("s1", "fail")


def test_a_polled_system_whose_adapter_cannot_poll_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(AdapterMisconfigured) as refused:
        build(tmp_path, MemoryAdapter(), name="memory")
    assert "system national" in refused.value.detail
    assert "receive.poll_interval_s" in refused.value.detail
