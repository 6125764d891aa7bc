"""The hops header: read, written, and a loop refused in English and Vietnamese."""

from __future__ import annotations

import pytest

from core.errors import Conflict, MalformedInput
from core.hops import MAX_HOPS, Hop, format_hops, parse_hops, refuse_loop

A = Hop("000.00.00.H57", "2026-12-01T08:00:00Z", "0b9e-11")
B = Hop("000.00.00.H44", "2026-12-01T08:00:03+00:00", "77aa-22")


def test_hops_read_back_as_written() -> None:
    assert parse_hops(format_hops((A, B))) == (A, B)


@pytest.mark.parametrize("value", [None, "", "  "])
def test_no_header_is_no_hops(value: str | None) -> None:
    assert parse_hops(value) == ()


@pytest.mark.parametrize("value", [
    "000.00.00.H57", "000.00.00.H57;yesterday;m-1", "000.00.00.H57;2026-12-01T08:00:00Z;",
    "000 00;2026-12-01T08:00:00Z;m-1", "000.00.00.H57;2026-12-01T08:00:00Z;m-1;extra",
])
def test_a_malformed_hop_is_refused_with_its_position(value: str) -> None:
    with pytest.raises(MalformedInput) as refused:
        parse_hops(f"{format_hops((A,))}, {value}")
    assert refused.value.code == "hops_invalid"
    assert refused.value.errors[0].path == "/X-Lienthong-Hops/1"
    assert refused.value.detail_vi


def test_too_many_hops_are_refused() -> None:
    with pytest.raises(MalformedInput) as refused:
        parse_hops(format_hops((A,) * (MAX_HOPS + 1)))
    assert refused.value.code == "hops_invalid"


def test_a_package_that_passed_this_hub_is_a_loop() -> None:
    with pytest.raises(Conflict) as refused:
        refuse_loop((A, B), "000.00.00.H57")
    assert refused.value.code == "federation_loop"
    assert refused.value.http_status == 409
    assert "0b9e-11" in refused.value.detail and "000.00.00.H44" in refused.value.detail
    assert "vòng lặp" in refused.value.detail_vi


def test_a_package_from_other_hubs_passes() -> None:
    refuse_loop((A, B), "000.00.00.H48")
