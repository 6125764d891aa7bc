"""The shipped delivery settings promise recovery within 30 s of a lost message or a death."""

from __future__ import annotations

from core.settings import Delivery


def test_the_defaults_recover_within_30_s() -> None:
    d = Delivery()
    # tests/integration/test_recovery.py measures these very values
    assert (d.dispatch_lease_s, d.lease_s, d.sweep_interval_s) == (20.0, 15.0, 5.0)
    # the worst case for a fresh delivery: a dispatch (or attempt) lease and one sweep
    assert max(d.dispatch_lease_s, d.lease_s) + d.sweep_interval_s < 30
    # a running attempt renews its lease three times per lease: one late renewal is harmless
    assert d.lease_s / 3 < d.lease_s
