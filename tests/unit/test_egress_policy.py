"""The egress policy without the network: address classes, the internal zone, registration,
and the `egress` settings that refuse what would open a hole."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.errors import HubError
from core.settings import Egress as EgressSettings
from core.settings import Settings
from routing.directory import Directory
from security.egress import Egress, registered_destinations
from security.egress_policy import Origin, Policy, Refusal, Route, Zone, address_class


@pytest.mark.parametrize(("address", "kind"), [
    ("8.8.8.8", None),
    ("203.0.113.10", None),
    ("2001:db8::1", None),
    ("127.0.0.1", "loopback"),
    ("127.8.8.8", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.31.255.255", "private"),
    ("192.168.0.1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.169.254", "cloud metadata"),
    ("fd00:ec2::254", "cloud metadata"),
    ("169.254.10.1", "link-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%2", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.251", "multicast"),
    ("ff02::1", "multicast"),
    ("255.255.255.255", "reserved"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("::ffff:10.0.0.1", "private"),
    ("64:ff9b::a00:1", "NAT64"),
])
def test_address_classes(address: str, kind: str | None) -> None:
    assert address_class(ipaddress.ip_address(address)) == kind


def test_origins_are_normalised() -> None:
    assert str(Origin.of("HTTPS://QLVB.Hue.Gov.VN/x?y")) == "https://qlvb.hue.gov.vn:443"
    assert str(Origin.of("http://[::1]:8080/")) == "http://[::1]:8080"
    assert Origin.of("https://qlvb.hue.gov.vn:443/a") == Origin.of("https://qlvb.hue.gov.vn/b")
    # an international name is compared (and resolved) in its ASCII form
    idn = str(Origin.of("https://bộ-nội-vụ.vn/"))
    assert idn.startswith("https://xn--") and idn.endswith(".vn:443") and idn.isascii()
    with pytest.raises(ValueError):
        Origin.of("/relative/path")


def policy(**zone: list[str]) -> Policy:
    return Policy({"a": ["https://qlvb.a.example/in", "http://10.9.9.9:8080/in",
                         "http://qlvb.hue.gov.vn/in", "http://qlvb.a.example/plain"],
                   "b": ["https://qlvb.b.example/in"]}, Zone(**zone))


def test_registration_is_per_system() -> None:
    p = policy()
    assert p.admit("a", Origin.of("https://qlvb.a.example/other/path")) is None
    refusal = p.admit("a", Origin.of("https://qlvb.b.example/in"))
    assert isinstance(refusal, Refusal) and refusal.code == "egress_other_system"
    refusal = p.admit("a", Origin.of("https://qlvb.a.example:8443/in"))  # another port
    assert isinstance(refusal, Refusal) and refusal.code == "egress_not_registered"
    refusal = p.admit("unknown-system", Origin.of("https://qlvb.a.example/in"))
    assert isinstance(refusal, Refusal) and refusal.code == "egress_other_system"
    refusal = p.admit("a", Origin.of("ftp://qlvb.a.example/in"))
    assert isinstance(refusal, Refusal) and refusal.code == "egress_not_registered"


def test_a_private_address_named_by_the_origin_is_internal() -> None:
    route = policy().vet("a", Origin.of("http://10.9.9.9:8080/in"), ["10.9.9.9"])
    assert route == Route(Origin.of("http://10.9.9.9:8080"), ("10.9.9.9",), internal=True)


def test_a_public_address_is_external_and_needs_https() -> None:
    p = policy()
    route = p.vet("a", Origin.of("https://qlvb.a.example/in"), ["203.0.113.7"])
    assert isinstance(route, Route) and not route.internal
    refusal = p.vet("a", Origin.of("http://qlvb.a.example/plain"), ["203.0.113.7"])
    assert isinstance(refusal, Refusal) and refusal.code == "egress_plain_http"


def test_the_internal_zone_allows_plain_http_and_private_addresses_only_where_listed() -> None:
    p = policy(networks=["10.0.0.0/8"], domains=["hue.gov.vn"])
    # an internal domain on a public address: plain HTTP allowed, no proxy
    route = p.vet("a", Origin.of("http://qlvb.hue.gov.vn/in"), ["203.0.113.8"])
    assert isinstance(route, Route) and route.internal
    # an internal network: a name may resolve into it
    route = p.vet("a", Origin.of("http://qlvb.a.example/plain"), ["10.1.1.1"])
    assert isinstance(route, Route) and route.internal
    # but an internal domain does not make a private address outside the networks reachable
    refusal = p.vet("a", Origin.of("http://qlvb.hue.gov.vn/in"), ["192.168.1.1"])
    assert isinstance(refusal, Refusal) and refusal.code == "egress_address_blocked"
    # nor does being listed make the metadata service reachable by name
    refusal = p.vet("a", Origin.of("http://qlvb.hue.gov.vn/in"), ["169.254.169.254"])
    assert isinstance(refusal, Refusal) and refusal.code == "egress_address_blocked"


def test_a_name_resolving_to_nothing_or_to_garbage_is_refused() -> None:
    p = policy()
    for answer in ([], ["not-an-address"]):
        refusal = p.vet("a", Origin.of("https://qlvb.a.example/in"), answer)
        assert isinstance(refusal, Refusal) and refusal.code == "egress_address_blocked"


@pytest.mark.parametrize("network", ["169.254.0.0/16", "169.254.169.254/32", "0.0.0.0/0",
                                     "fe80::/64", "224.0.0.0/8", "::/0"])
def test_link_local_multicast_and_everything_are_never_internal(network: str) -> None:
    with pytest.raises(ValidationError, match="never an internal zone"):
        EgressSettings(internal_networks=[network])


def test_egress_settings_refuse_what_would_not_work() -> None:
    with pytest.raises(ValidationError, match="proxy_url"):
        EgressSettings(proxy_url="https://proxy.hue.gov.vn:3128")
    with pytest.raises(ValidationError, match="go together"):
        EgressSettings(client_cert=Path("/etc/lienthong/client.pem"))
    with pytest.raises(ValidationError, match="not a domain"):
        EgressSettings(internal_domains=["https://hue.gov.vn"])
    with pytest.raises(ValidationError, match="not a network"):
        EgressSettings(internal_networks=["10.0.0.0/33"])
    ok = EgressSettings(internal_domains=["Hue.Gov.VN."], internal_networks=["10.0.0.0/8"],
                        proxy_url="http://proxy.hue.gov.vn:3128")
    assert ok.internal_domains == ["hue.gov.vn"]


def test_egress_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENTHONG_EGRESS__PROXY_URL", "http://proxy.hue.gov.vn:3128")
    monkeypatch.setenv("LIENTHONG_EGRESS__INTERNAL_NETWORKS", '["10.0.0.0/8"]')
    settings = Settings()
    assert settings.egress.proxy_url == "http://proxy.hue.gov.vn:3128"
    assert settings.egress.internal_networks == ["10.0.0.0/8"]


def test_a_missing_ca_bundle_stops_the_gateway(tmp_path: Path) -> None:
    with pytest.raises(HubError) as info:
        Egress({}, EgressSettings(ca_bundle=tmp_path / "nowhere.pem"))
    assert info.value.code == "egress_misconfigured"


def test_each_push_system_registers_its_url_and_wsdl(tmp_path: Path) -> None:
    local = tmp_path / "svc.wsdl"
    local.write_text("<definitions/>")
    directory = Directory.from_dict({
        "organizations": [{"code": f"000.00.{n}.H57", "name": "x", "level": "district"}
                          for n in (21, 22, 23)],
        "systems": [
            {"id": "rest", "organizations": ["000.00.21.H57"],
             "receive": {"mode": "push", "url": "https://qlvb.a.example/in"}},
            {"id": "soap", "organizations": ["000.00.22.H57"],
             "receive": {"mode": "push", "adapter": "soap", "url": "http://10.1.1.1/ws",
                         "soap": {"wsdl": "https://qlvb.b.example/ws?wsdl"}}},
            {"id": "local", "organizations": ["000.00.23.H57"],
             "receive": {"mode": "push", "adapter": "soap", "soap": {"wsdl": str(local)}}},
        ]})
    assert registered_destinations(directory.systems()) == {
        "rest": ["https://qlvb.a.example/in"],
        "soap": ["http://10.1.1.1/ws", "https://qlvb.b.example/ws?wsdl"],
        "local": [],
    }
