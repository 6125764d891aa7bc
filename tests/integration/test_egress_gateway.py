"""The single exit: each system reaches only its own destinations, over what it should, where
the gateway checked; every refusal has its own code and is reported for the audit chain.

Real connections on loopback only (`loopback_only` fails a test that tries anything else);
names come from a stub resolver.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import PermanentError, TransientError
from core.settings import Egress as EgressSettings
from security.egress import Egress, EgressDenied, EgressRefusal, EgressTimeout
from tests.egress_support import (
    Pki,
    StubResolver,
    loopback_only,  # noqa: F401 - a fixture
    make_pki,
    run_connect_proxy,
    run_server,
    run_tls_server,
)
from tests.support import free_port

pytestmark = pytest.mark.usefixtures("loopback_only")


class Gateway:
    """An Egress with its refusals and metrics observations kept for the test to read."""

    def __init__(self, destinations: dict[str, list[str]], resolver: StubResolver | None = None,
                 **settings: Any) -> None:
        self.refusals: list[EgressRefusal] = []
        self.observed: list[tuple[str, str, float | None]] = []
        self.resolver = resolver or StubResolver({})
        self.egress = Egress(destinations, EgressSettings(**settings), default_timeout=5.0,
                             resolver=self.resolver, on_denied=self.refusals.append,
                             observe=lambda *call: self.observed.append(call))

    def post(self, system: str, url: str, **kwargs: Any) -> Any:
        return self.egress.for_system(system).post(url, content=b"{}", **kwargs)

    def refused(self, system: str, url: str) -> EgressDenied:
        """The refusal of a POST; fails the test if it was not refused."""
        with pytest.raises(EgressDenied) as info:
            self.post(system, url)
        return info.value


@pytest.fixture
def gateways() -> Iterator[list[Gateway]]:
    made: list[Gateway] = []
    yield made
    for g in made:
        g.egress.close()


@pytest.fixture
def gateway(gateways: list[Gateway]) -> Any:
    def build(*args: Any, **kwargs: Any) -> Gateway:
        g = Gateway(*args, **kwargs)
        gateways.append(g)
        return g
    return build


def test_a_system_reaches_its_registered_receiver(gateway: Any) -> None:
    with run_server() as receiver:
        g = gateway({"so-noi-vu": [f"{receiver.url}/in"]})
        answer = g.post("so-noi-vu", f"{receiver.url}/in")
        assert answer.status_code == 200
        assert [h.path for h in receiver.hits] == ["/in"]
        assert g.refusals == []
        [(destination, outcome, seconds)] = g.observed
        assert (destination, outcome) == (receiver.url, "2xx")
        assert seconds is not None and seconds > 0


def test_a_host_outside_the_systems_destinations_is_refused_before_any_lookup(
        gateway: Any) -> None:
    with run_server() as receiver:
        resolver = StubResolver({"qlvb.example.vn": [["203.0.113.10"]]})
        g = gateway({"so-noi-vu": [f"{receiver.url}/in"]}, resolver)
        error = g.refused("so-noi-vu", "https://qlvb.example.vn/lienthong?key=secret")
        assert error.code == "egress_not_registered"
        assert error.detail_vi
        assert resolver.lookups == []
        assert g.refusals == [EgressRefusal(
            "so-noi-vu", "https://qlvb.example.vn:443/lienthong", "egress_not_registered",
            error.detail)]
        # an unregistered origin is one bounded metrics label, not one label per address
        assert g.observed == [("unregistered", "egress_not_registered", None)]


def test_another_systems_endpoint_is_refused(gateway: Any) -> None:
    with run_server() as mine, run_server() as theirs:
        g = gateway({"phu-vang": [f"{mine.url}/in"], "so-tai-chinh": [f"{theirs.url}/in"]})
        error = g.refused("phu-vang", f"{theirs.url}/in")
        assert error.code == "egress_other_system"
        assert "so-tai-chinh" in error.detail
        assert theirs.hits == []
        assert [(r.system, r.code) for r in g.refusals] == [("phu-vang", "egress_other_system")]
        # each reaches its own
        assert g.post("so-tai-chinh", f"{theirs.url}/in").status_code == 200


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://10.0.0.8:5432/",
    "http://[::1]:6379/",
    "http://[::ffff:127.0.0.1]:8080/",
    "http://100.64.1.1/",
    "http://0.0.0.0:8080/",
])
def test_private_and_metadata_addresses_are_refused(gateway: Any, url: str) -> None:
    with run_server() as receiver:
        g = gateway({"phu-vang": [f"{receiver.url}/in"]})
        error = g.refused("phu-vang", url)
        assert error.code == "egress_address_blocked"
        assert [r.code for r in g.refusals] == ["egress_address_blocked"]


@pytest.mark.parametrize(("answer", "kind"), [
    (["169.254.169.254"], "cloud metadata"),
    (["10.20.30.40"], "private"),
    (["127.0.0.1"], "loopback"),
    (["fd00:ec2::254"], "cloud metadata"),
    (["203.0.113.10", "192.168.1.1"], "private"),  # one bad answer spoils the name
])
def test_a_registered_name_that_resolves_to_a_special_address_is_refused(
        gateway: Any, answer: list[str], kind: str) -> None:
    resolver = StubResolver({"qlvb.phuvang.example": [answer]})
    g = gateway({"phu-vang": ["https://qlvb.phuvang.example/lienthong"]}, resolver)
    error = g.refused("phu-vang", "https://qlvb.phuvang.example/lienthong")
    assert error.code == "egress_address_blocked"
    assert kind in error.detail
    assert resolver.lookups == ["qlvb.phuvang.example"]
    assert [r.code for r in g.refusals] == ["egress_address_blocked"]


def test_a_rebinding_name_is_resolved_once_and_reached_only_where_it_was_checked(
        gateway: Any) -> None:
    with run_server() as receiver:
        port = receiver.url.rsplit(":", 1)[1]
        url = f"http://qlvb.hue.example:{port}/in"
        # first lookup: the (internal) receiver; any later one: the metadata service
        resolver = StubResolver({"qlvb.hue.example": [["127.0.0.1"], ["169.254.169.254"]]})
        g = gateway({"so-noi-vu": [url]}, resolver, internal_networks=["127.0.0.0/8"])
        assert g.post("so-noi-vu", url).status_code == 200
        # one lookup for the request; the connection went to the checked address, keeping
        # the name in the Host header (a second lookup would have been refused, or would
        # have hit `loopback_only`)
        assert resolver.lookups == ["qlvb.hue.example"]
        assert receiver.hits[0].headers["Host"] == f"qlvb.hue.example:{port}"
        # the next request looks again, sees the metadata address, and is refused, even
        # though a kept-alive connection to the receiver is still open
        error = g.refused("so-noi-vu", url)
        assert error.code == "egress_address_blocked"
        assert len(receiver.hits) == 1
        assert resolver.lookups == ["qlvb.hue.example"] * 2
        assert [(r.system, r.code) for r in g.refusals] == [("so-noi-vu", "egress_address_blocked")]


def test_a_loopback_receiver_needs_its_address_registered_not_a_name(gateway: Any) -> None:
    with run_server() as receiver:
        port = receiver.url.rsplit(":", 1)[1]
        resolver = StubResolver({"localhost": [["127.0.0.1"]]})
        g = gateway({"demo": [f"http://localhost:{port}/in"]}, resolver)
        error = g.refused("demo", f"http://localhost:{port}/in")
        assert error.code == "egress_address_blocked"
        assert receiver.hits == []


@pytest.mark.parametrize("url", ["http://qlvb.example.vn/in", "http://203.0.113.10:8080/in"])
def test_plain_http_to_an_external_destination_is_refused(gateway: Any, url: str) -> None:
    resolver = StubResolver({"qlvb.example.vn": [["203.0.113.10"]]})
    g = gateway({"so-tai-chinh": [url]}, resolver)
    error = g.refused("so-tai-chinh", url)
    assert error.code == "egress_plain_http"
    assert [r.code for r in g.refusals] == ["egress_plain_http"]


def test_a_redirect_is_refused_not_followed(gateway: Any) -> None:
    with run_server() as elsewhere, run_server(
            status=302, headers={"Location": f"{elsewhere.url}/steal"}) as receiver:
        g = gateway({"so-noi-vu": [f"{receiver.url}/in"], "other": [elsewhere.url]})
        error = g.refused("so-noi-vu", f"{receiver.url}/in")
        assert error.code == "egress_redirect"
        assert isinstance(error, PermanentError)
        assert elsewhere.url in error.detail
        assert len(receiver.hits) == 1 and elsewhere.hits == []
        [refusal] = g.refusals
        assert (refusal.system, refusal.destination, refusal.code) == (
            "so-noi-vu", f"{receiver.url}/in", "egress_redirect")
        assert g.observed[0][:2] == (receiver.url, "egress_redirect")


def test_a_receiver_that_does_not_answer_times_out(gateway: Any) -> None:
    with run_server(hang=threading.Event()) as receiver:
        g = gateway({"so-noi-vu": [f"{receiver.url}/in"]})
        started = time.monotonic()
        with pytest.raises(EgressTimeout) as info:
            g.post("so-noi-vu", f"{receiver.url}/in", timeout=0.5)
        assert isinstance(info.value, TransientError)
        assert time.monotonic() - started < 3
        assert g.observed[-1][:2] == (receiver.url, "timeout")


def test_an_answer_over_the_limit_is_refused(gateway: Any) -> None:
    with run_server(body=b"x" * 5000) as receiver:
        g = gateway({"so-noi-vu": [f"{receiver.url}/in"]}, max_answer_bytes=4096)
        with pytest.raises(PermanentError) as info:
            g.post("so-noi-vu", f"{receiver.url}/in")
        assert info.value.code == "egress_answer_too_large"


def test_nothing_listening_is_unreachable_and_transient(gateway: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}/in"
    g = gateway({"so-noi-vu": [url]})
    with pytest.raises(TransientError) as info:
        g.post("so-noi-vu", url)
    assert info.value.code == "egress_unreachable"


# -- HTTPS, the upstream proxy, the CA bundle, mutual TLS ------------------------------------
NAME = "qlvb.stc.example.vn"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path, NAME)


def test_external_https_goes_through_the_proxy_to_the_checked_address_with_sni(
        gateway: Any, pki: Pki) -> None:
    with run_tls_server(pki) as tls, run_connect_proxy(tls.port) as proxy:
        resolver = StubResolver({NAME: [["203.0.113.10"], ["10.0.0.1"]]})
        g = gateway({"so-tai-chinh": [f"https://{NAME}/lienthong"]}, resolver,
                    proxy_url=proxy.url.replace("http://", "http://lgsp:mat%20khau@"),
                    ca_bundle=pki.ca)
        answer = g.post("so-tai-chinh", f"https://{NAME}/lienthong")
        assert answer.status_code == 200
        # the proxy was asked for the address the gateway checked, never for the name
        assert proxy.targets == ["203.0.113.10:443"]
        assert proxy.authorizations == ["Basic bGdzcDptYXQga2hhdQ=="]
        # the name travelled as SNI (and the certificate was verified against it) and Host
        assert tls.sni == [NAME]
        assert tls.server.hits[0].headers["Host"] == NAME
        assert resolver.lookups == [NAME]


def test_internal_destinations_go_direct_not_through_the_proxy(gateway: Any, pki: Pki) -> None:
    with run_tls_server(pki) as tls, run_connect_proxy(tls.port) as proxy:
        url = f"https://{NAME}:{tls.port}/lienthong"
        resolver = StubResolver({NAME: [["127.0.0.1"]]})
        g = gateway({"so-tai-chinh": [url]}, resolver, proxy_url=proxy.url, ca_bundle=pki.ca,
                    internal_networks=["127.0.0.0/8"])
        assert g.post("so-tai-chinh", url).status_code == 200
        assert proxy.targets == []
        assert tls.sni == [NAME]


def test_a_certificate_from_an_unknown_ca_is_refused(gateway: Any, pki: Pki) -> None:
    with run_tls_server(pki) as tls:
        url = f"https://{NAME}:{tls.port}/lienthong"
        g = gateway({"so-tai-chinh": [url]}, StubResolver({NAME: [["127.0.0.1"]]}),
                    internal_networks=["127.0.0.0/8"])  # certifi's bundle: no test CA in it
        with pytest.raises(TransientError) as info:
            g.post("so-tai-chinh", url)
        assert info.value.code == "egress_tls_failed"
        assert tls.server.hits == []


def test_a_certificate_for_another_name_is_refused(gateway: Any, pki: Pki) -> None:
    with run_tls_server(pki) as tls:
        url = f"https://other.example.vn:{tls.port}/lienthong"
        g = gateway({"so-tai-chinh": [url]},
                    StubResolver({"other.example.vn": [["127.0.0.1"]]}),
                    internal_networks=["127.0.0.0/8"], ca_bundle=pki.ca)
        with pytest.raises(TransientError) as info:
            g.post("so-tai-chinh", url)
        assert info.value.code == "egress_tls_failed"


def test_mutual_tls_presents_the_configured_client_certificate(gateway: Any, pki: Pki) -> None:
    with run_tls_server(pki, require_client_cert=True) as tls:
        url = f"https://{NAME}:{tls.port}/lienthong"
        resolver = StubResolver({NAME: [["127.0.0.1"]]})
        common = {"internal_networks": ["127.0.0.0/8"], "ca_bundle": pki.ca}
        without = gateway({"x": [url]}, resolver, **common)
        with pytest.raises(TransientError):
            without.post("x", url)
        assert tls.server.hits == []
        mutual = gateway({"x": [url]}, resolver, client_cert=pki.client_cert,
                         client_key=pki.client_key, **common)
        assert mutual.post("x", url).status_code == 200
        assert "lgsp-hue" in tls.client_subjects[-1]
