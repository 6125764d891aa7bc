"""The gateway's mail path: a relay registered for the system, reached where the gateway
checked, over TLS outside the internal zone; every refusal coded and reported for the audit.

Real connections on loopback only (`loopback_only`); names come from a stub resolver.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.settings import Egress as EgressSettings
from security.egress import (
    Egress,
    EgressDenied,
    EgressRefusal,
    EgressTimeout,
    EgressUnreachable,
    MailDeferred,
    MailRefused,
)
from tests.egress_support import (
    Pki,
    StubResolver,
    loopback_only,  # noqa: F401 - a fixture
    make_pki,
    run_server,
)
from tests.smtp_support import run_smtp

pytestmark = pytest.mark.usefixtures("loopback_only")

RELAY = "relay.hue.example.vn"
MAIL = b"From: lgsp@hue.gov.vn\r\nTo: vanthu@hue.gov.vn\r\nSubject: test\r\n\r\nxin chao\r\n"


class Mailer:
    def __init__(self, destinations: dict[str, list[str]], table: dict[str, list[list[str]]],
                 **settings: Any) -> None:
        self.refusals: list[EgressRefusal] = []
        self.resolver = StubResolver(table)
        self.egress = Egress(destinations, EgressSettings(**settings), default_timeout=2.0,
                             resolver=self.resolver, on_denied=self.refusals.append)

    def send(self, system: str, url: str) -> dict[str, tuple[int, bytes]]:
        return self.egress.for_system(system).send_mail(
            url, sender="lgsp@hue.gov.vn", recipients=["vanthu@hue.gov.vn"], message=MAIL)


@pytest.fixture
def mailer() -> Iterator[Any]:
    made: list[Mailer] = []

    def build(*args: Any, **kwargs: Any) -> Mailer:
        made.append(Mailer(*args, **kwargs))
        return made[-1]

    yield build
    for m in made:
        m.egress.close()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path, RELAY)


def server_tls(pki: Pki) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    return context


def test_smtps_reaches_the_relay_by_name_at_the_checked_address(mailer: Any, pki: Pki) -> None:
    with run_smtp(server_tls(pki)) as box:
        url = f"smtps://{RELAY}:{box.port}"
        m = mailer({"xa": [url]}, {RELAY: [["127.0.0.1"]]},
                   internal_networks=["127.0.0.0/8"], ca_bundle=pki.ca)
        assert m.send("xa", url) == {}
    assert box.envelopes == [("lgsp@hue.gov.vn", ["vanthu@hue.gov.vn"])]
    assert m.resolver.lookups == [RELAY]


def test_a_relay_with_a_certificate_from_an_unknown_ca_gets_nothing(
        mailer: Any, pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    other = make_pki(tmp_path / "other", RELAY)
    with run_smtp(server_tls(pki)) as box:
        url = f"smtps://{RELAY}:{box.port}"
        m = mailer({"xa": [url]}, {RELAY: [["127.0.0.1"]]},
                   internal_networks=["127.0.0.0/8"], ca_bundle=other.ca)
        with pytest.raises(EgressUnreachable) as failed:
            m.send("xa", url)
    assert failed.value.code == "egress_tls_failed"
    assert box.messages == []


def test_plain_smtp_outside_the_internal_zone_is_refused_before_connecting(mailer: Any) -> None:
    url = "smtp://mail.example.vn:25"
    m = mailer({"xa": [url]}, {"mail.example.vn": [["203.0.113.9"]]})
    with pytest.raises(EgressDenied) as refused:
        m.send("xa", url)
    assert refused.value.code == "egress_plain_smtp"
    assert refused.value.detail_vi
    assert [(r.system, r.code) for r in m.refusals] == [("xa", "egress_plain_smtp")]


def test_another_systems_relay_is_refused(mailer: Any) -> None:
    with run_smtp() as box:
        m = mailer({"xa": [], "so": [box.url]}, {})
        with pytest.raises(EgressDenied) as refused:
            m.send("xa", box.url)
    assert refused.value.code == "egress_other_system"
    assert box.messages == []


def test_the_relay_answers_decide_retry_or_refusal(mailer: Any) -> None:
    with run_smtp() as box:
        m = mailer({"xa": [box.url]}, {})
        box.plan += ["451 4.3.0 try later", "554 5.7.1 refused"]
        with pytest.raises(MailDeferred):
            m.send("xa", box.url)
        with pytest.raises(MailRefused):
            m.send("xa", box.url)
        assert m.send("xa", box.url) == {}
    assert len(box.messages) == 1


def test_a_relay_that_never_greets_times_out(mailer: Any) -> None:
    with run_server(hang=threading.Event()) as silent:
        url = silent.url.replace("http://", "smtp://")
        m = mailer({"xa": [url]}, {})
        with pytest.raises(EgressTimeout):
            m.send("xa", url)


def test_an_http_request_to_a_mail_relay_is_refused(mailer: Any) -> None:
    m = mailer({"xa": ["smtp://127.0.0.1:2525"]}, {})
    with pytest.raises(EgressDenied) as refused:
        m.egress.for_system("xa").post("smtp://127.0.0.1:2525/x", content=b"")
    assert refused.value.code == "egress_not_registered"
