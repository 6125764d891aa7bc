"""Signatures over REST and SOAP: signed corpus packages are accepted and their verdict is in
the message and its audit event; bad ones are refused with their code, audited once, and
nothing of them is stored; the bytes delivered are the bytes verified."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import httpx
import pytest
import zeep
from sqlalchemy import func, select

from core.settings import Settings
from hub.store.models import Message
from schemas.mapping import edxml_to_json
from security.audit_tables import AuditEvent
from tests import services
from tests.corpus_directory import CORPUS_KEYS, CORPUS_ORGS, corpus_directory
from tests.edxml_support import corpus, mutate
from tests.jwsign import dumps, sign_json
from tests.pki import SENDER, Pki, shared_pki
from tests.soap_support import hub_fault, zeep_client
from tests.support import (
    LiveHub,
    Receiver,
    events_after,
    last_seq,
    run_hub,
    run_receiver,
    wait_until,
)
from tests.xmlsign import sign_edxml

pytestmark = pytest.mark.integration

G22 = "000.00.00.G22"
# h13 must sign; vpcp signs when it can, with RSASSA-PSS only; everyone else: the default
SIGNATURES = {"h13": {"policy": "required"},
              "vpcp": {"policy": "if-present", "algorithms": ["rsa-pss-sha256",
                                                              "rsa-pss-sha512"]}}


@pytest.fixture(scope="module")
def pki() -> Pki:
    return shared_pki()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with run_receiver() as r:
        yield r


@pytest.fixture(scope="module")
def hub(pg_server: str | None, redis_server: str | None, receiver: Receiver, pki: Pki,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    anchors, crls = pki.write(tmp_path_factory.mktemp("trust"))
    server = services.require(pg_server, "PostgreSQL")
    redis = services.require(redis_server, "Redis")
    receive = {system: {"mode": "push", "url": f"{receiver.url}/{system}", "format": "edxml"}
               for system, _ in CORPUS_ORGS.values()}
    with services.fresh_database(server, "lt_sig") as url:
        settings = Settings(database_url=url, redis_url=redis, embedded_worker=True,
                            broker_namespace=f"lt-sig-{url.rsplit('/', 1)[-1]}",
                            signatures={"trust_anchors": [anchors], "crls": [crls]})
        with run_hub(settings, corpus_directory(receive, SIGNATURES)) as live:
            yield live


_numbers = itertools.count(9000)


def unique(raw: bytes) -> bytes:
    """The package under a DocumentId of its own: the hub de-duplicates by DocumentId."""
    return mutate(raw, ",7816/", f",{next(_numbers)}/")


def rest(hub: LiveHub, system: str, raw: bytes, media: str = "application/xml",
         status: bool = False) -> httpx.Response:
    return httpx.post(f"{hub.url}/api/v1/{'statuses' if status else 'documents'}",
                      content=raw, timeout=60,
                      headers={"Authorization": f"Bearer {CORPUS_KEYS[system]}",
                               "Content-Type": media})


def soap(hub: LiveHub, channel: str, system: str, raw: bytes) -> str:
    port = "LienthongSoap11" if channel == "soap11" else "LienthongSoap12"
    client = zeep_client(hub.url, system, CORPUS_KEYS[system], port=port)
    answer = client.service.SendDocument(PackageBase64=raw)
    assert answer.Status == "accepted"
    return str(answer.MessageId)


def send(hub: LiveHub, channel: str, system: str, raw: bytes) -> str:
    if channel == "rest":
        r = rest(hub, system, raw)
        assert r.status_code == 202, r.text[:2000]
        return str(r.json()["id"])
    return soap(hub, channel, system, raw)


def shown(hub: LiveHub, system: str, message_id: str) -> dict:
    r = httpx.get(f"{hub.url}/api/v1/messages/{message_id}", timeout=30,
                  headers={"Authorization": f"Bearer {CORPUS_KEYS[system]}"})
    assert r.status_code == 200, r.text
    return dict(r.json())


def audit_of(hub: LiveHub, message_id: str, event: str) -> dict:
    with hub.ctx.db.reading() as session:
        row = session.execute(select(AuditEvent).where(
            AuditEvent.message_id == message_id, AuditEvent.event == event)).scalar_one()
    return dict(json.loads(row.detail))


def stored(hub: LiveHub) -> int:
    with hub.ctx.db.reading() as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


@pytest.mark.parametrize("channel", ["rest", "soap11", "soap12"])
@pytest.mark.parametrize("method,kind", [("rsa-sha256", "rsa"), ("rsa-pss-sha256", "rsa"),
                                         ("ecdsa-sha256", "ec")])
def test_signed_packages_are_accepted_and_delivered_as_verified(
        hub: LiveHub, receiver: Receiver, pki: Pki, channel: str, method: str,
        kind: str) -> None:
    signer = pki.signer(SENDER, kind)
    raw = unique(corpus("edoc_new.edxml"))
    signed = sign_edxml(raw, signer, method=method)
    message_id = send(hub, channel, "h13", signed)
    verdict = shown(hub, "h13", message_id)["signature"]
    assert verdict["status"] == "verified" and verdict["signed"] is True
    assert verdict["subject"] == signer.cert.subject.rfc4514_string()
    assert verdict["issuer"] == pki.intermediate.cert.subject.rfc4514_string()
    assert verdict["serial"] == format(signer.cert.serial_number, "x")
    assert verdict["algorithm"] == method and verdict["format"] == "xmldsig"
    assert audit_of(hub, message_id, "message.received")["signature"] == verdict
    # edoc_new goes to 28.22.H17 (system h17), which takes edXML: the very bytes signed
    wait_until(lambda: any(r.headers.get("X-Lienthong-Message-Id") == message_id
                           for r in receiver.at("/h17")), what="the delivery")
    delivered = next(r.body for r in receiver.at("/h17")
                     if r.headers.get("X-Lienthong-Message-Id") == message_id)
    assert delivered == signed


REFUSALS = [
    # (case, system, bytes builder, code, HTTP status)
    ("unsigned, policy required", "h13", lambda p: corpus("edoc_new.edxml"),
     "signature_missing", 422),
    ("expired certificate", "h13",
     lambda p: sign_edxml(corpus("edoc_new.edxml"), p.leaf("expired")),
     "certificate_expired", 422),
    ("revoked certificate", "h13",
     lambda p: sign_edxml(corpus("edoc_new.edxml"), p.leaf("revoked")),
     "certificate_revoked", 422),
    ("another organisation's certificate", "h13",
     lambda p: sign_edxml(corpus("edoc_new.edxml"), p.leaf("other-org")),
     "certificate_not_sender", 403),
    ("changed after signing", "h13",
     lambda p: mutate(sign_edxml(corpus("edoc_new.edxml"), p.leaf("rsa")),
                      "<edXML:CodeNumber>", "<edXML:CodeNumber>9"),
     "signature_digest_mismatch", 422),
    ("PKCS#1 v1.5 where the system demands PSS", "vpcp",
     lambda p: sign_edxml(corpus("edoc_update.edxml"), p.signer(G22), method="rsa-sha256"),
     "signature_algorithm_refused", 422),
]


@pytest.mark.parametrize("channel", ["rest", "soap12"])
@pytest.mark.parametrize("case", [c[0] for c in REFUSALS])
def test_bad_signatures_are_refused_audited_once_and_not_stored(
        hub: LiveHub, pki: Pki, channel: str, case: str) -> None:
    _, system, build, code, status = next(c for c in REFUSALS if c[0] == case)
    raw = build(pki)
    before, count = last_seq(hub), stored(hub)
    if channel == "rest":
        r = rest(hub, system, raw)
        assert r.status_code == status, r.text
        problem = r.json()
        assert problem["code"] == code and problem["detail"] and problem["detail_vi"]
    else:
        client = zeep_client(hub.url, system, CORPUS_KEYS[system], port="LienthongSoap12")
        with pytest.raises(zeep.exceptions.Fault) as caught:
            client.service.SendDocument(PackageBase64=raw)
        fault = hub_fault(caught.value)
        assert fault["Code"] == code and fault["MessageVi"]
    # the hub is shared by the module: an earlier test's delivery may finish meanwhile
    events = [e for e in events_after(hub, before) if not e["event"].startswith("delivery.")]
    assert [e["event"] for e in events] == ["message.rejected"]
    assert events[0]["code"] == code
    assert stored(hub) == count


def test_placeholder_blocks_pass_as_unsigned_under_if_present(hub: LiveHub) -> None:
    # vpcp signs "if present": edoc_update carries the SDK's edXML-namespace placeholder
    r = rest(hub, "vpcp", corpus("edoc_update.edxml"))
    assert r.status_code == 202, r.text
    message = shown(hub, "vpcp", r.json()["id"])
    assert message["signature"]["status"] == "unsigned"
    assert "edXML namespace" in message["signature"]["note"]
    assert [w.get("code") for w in message["warnings"]
            if w.get("code") == "signature_placeholder"] == ["signature_placeholder"]
    # a status from a system with no rules of its own gets the default: if-present
    r = rest(hub, "nghean", corpus("status.edxml"), status=True)
    assert r.status_code == 202, r.text
    assert shown(hub, "nghean", r.json()["id"])["signature"]["status"] == "unsigned"


def test_pss_signed_package_of_a_system_that_signs_if_present(hub: LiveHub,
                                                              pki: Pki) -> None:
    raw = unique(corpus("edoc_update.edxml"))
    r = rest(hub, "vpcp", sign_edxml(raw, pki.signer(G22), method="rsa-pss-sha512"))
    assert r.status_code == 202, r.text
    assert shown(hub, "vpcp", r.json()["id"])["signature"]["algorithm"] == "rsa-pss-sha512"


@pytest.mark.parametrize("form", ["compact", "flattened"])
def test_json_form_signed_with_a_jws(hub: LiveHub, pki: Pki, receiver: Receiver,
                                     form: str) -> None:
    pkg = edxml_to_json(unique(corpus("edoc_new.edxml")))
    signed = dumps(sign_json(pkg, pki.leaf("rsa"), alg="PS256", form=form))
    r = rest(hub, "h13", signed, "application/json")
    assert r.status_code == 202, r.text
    verdict = shown(hub, "h13", r.json()["id"])["signature"]
    assert verdict["format"] == "jws" and verdict["algorithm"] == "rsa-pss-sha256"
    tampered = signed.replace(b'"subject": "', b'"subject": "X', 1)
    refusal = rest(hub, "h13", tampered, "application/json")
    assert refusal.status_code == 422 and refusal.json()["code"] == "jws_invalid"


@pytest.mark.parametrize("c14n_name", ["exc", "inc"])
def test_signed_package_inline_in_soap(hub: LiveHub, pki: Pki, c14n_name: str) -> None:
    """Inline, the hub stores the element re-serialised: C14N-based signatures survive."""
    from tests.soap_support import envelope, headers, security

    signed = sign_edxml(unique(corpus("edoc_new.edxml")), pki.leaf("rsa"),
                        method="rsa-pss-sha256", c14n_name=c14n_name)
    inline = signed.split(b"?>", 1)[1].decode("utf-8")
    r = httpx.post(f"{hub.url}/soap", timeout=60,
                   content=envelope(f"<lt:SendDocument>{inline}</lt:SendDocument>",
                                    security("h13", CORPUS_KEYS["h13"])),
                   headers=headers("1.2", "SendDocument"))
    assert r.status_code == 200, r.text[:2000]
    assert b"<lt:Status>accepted</lt:Status>" in r.content
    message_id = r.content.split(b"<lt:MessageId>")[1].split(b"<")[0].decode()
    assert shown(hub, "h13", message_id)["signature"]["status"] == "verified"
