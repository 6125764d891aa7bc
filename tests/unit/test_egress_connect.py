"""A checked socket for a plugin whose protocol is not HTTP (SystemEgress.connect): the
same refusals as a request, before any connection is made."""

from __future__ import annotations

import pytest

from core.settings import Egress as EgressSettings
from security.egress import Egress, EgressDenied, EgressRefusal, registered_destinations
from tests.unit.test_adapter_startup import directory


def refused(egress: Egress, system: str, url: str) -> str:
    with pytest.raises(EgressDenied) as info:
        egress.for_system(system).connect(url, timeout=1)
    return info.value.code


def test_only_the_systems_own_sftp_destination_is_admitted() -> None:
    seen: list[EgressRefusal] = []
    egress = Egress({"a": ["sftp://8.8.8.8:2222/in"], "b": ["https://8.8.4.4/in"]},
                    on_denied=seen.append)
    try:
        assert refused(egress, "b", "sftp://8.8.8.8:2222/in") == "egress_other_system"
        assert refused(egress, "a", "sftp://8.8.8.8:22/in") == "egress_not_registered"
        # the socket is for non-HTTP transports: an http(s) origin is sent through request
        assert refused(egress, "b", "https://8.8.4.4/in") == "egress_not_registered"
        assert refused(egress, "a", "sftp://127.0.0.1:2222/in") == "egress_address_blocked"
        assert [r.system for r in seen] == ["b", "a", "b", "a"]
    finally:
        egress.close()


def test_an_external_destination_behind_the_http_proxy_is_refused() -> None:
    egress = Egress({"a": ["sftp://8.8.8.8:2222/in"]},
                    EgressSettings(proxy_url="http://proxy.invalid:3128"))
    try:
        assert refused(egress, "a", "sftp://8.8.8.8:2222/in") == "egress_no_tunnel"
    finally:
        egress.close()


def test_a_directory_sftp_url_is_registered_for_its_system() -> None:
    d = directory({"mode": "push", "adapter": "sftp", "url": "sftp://qlvb.invalid/in"})
    assert registered_destinations(d.systems()) == {"so-1": ["sftp://qlvb.invalid/in"]}
