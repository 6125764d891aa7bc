"""Real edXML packages over SOAP: zeep sends the corpus, pull systems fetch it byte for byte."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import zeep

from schemas.xmlparser import parse_xml
from tests.corpus_directory import CORPUS_KEYS, corpus_directory
from tests.soap_support import envelope, headers, hub_fault, security, zeep_client
from tests.support import CORPUS, LiveHub, run_hub

pytestmark = pytest.mark.integration
EDXML = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
DOCUMENT_ID = "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"


@pytest.fixture
def hub(make_settings, pg_url: str, redis_url: str) -> Iterator[LiveHub]:
    settings = make_settings(database_url=pg_url, redis_url=redis_url, embedded_worker=True)
    with run_hub(settings, corpus_directory()) as live:
        yield live


def client(hub: LiveHub, system: str) -> zeep.Client:
    return zeep_client(hub.url, system, CORPUS_KEYS[system])


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def test_document_round_trip_with_zeep_byte_for_byte(hub: LiveHub) -> None:
    raw = corpus("edoc_update.edxml")
    sent = client(hub, "vpcp").service.SendDocument(PackageBase64=raw)
    assert (sent.Status, sent.Kind, sent.DocumentId) == ("accepted", "document", DOCUMENT_ID)
    assert sent.Recipients.OrganId == ["000.00.00.H41", "000.00.00.H14", "000.00.00.G17"]

    nghean = client(hub, "nghean")
    pending = nghean.service.GetPendingDocumentIds()
    assert [(p.MessageId, p.DocumentId, p.Sender) for p in pending] == [
        (sent.MessageId, DOCUMENT_ID, "000.00.00.G22")]
    fetched = nghean.service.GetDocument(MessageId=sent.MessageId)
    assert (fetched.Format, fetched.MediaType) == ("edxml", "application/xml")
    assert fetched.PackageBase64 == raw  # the sender's exact bytes, CRLFs and all
    assert nghean.service.ConfirmReceived(MessageId=sent.MessageId).State == "delivered"

    answer = nghean.service.SendStatus(PackageBase64=corpus("status_inbox_01.edxml"))
    assert (answer.Kind, answer.Recipients.OrganId) == ("status", ["000.00.00.G22"])

    vpcp = client(hub, "vpcp")
    trace = vpcp.service.GetTrace(MessageId=sent.MessageId)
    assert [(h.OrganId, h.Source) for h in trace.Hop if h.Source == "package"] == [
        ("000.00.00.G22", "package")]
    assert [h.Event for h in trace.Hop if h.Source == "hub"][0] == "message.received"
    assert [(s.StatusCode, s.From) for s in trace.Status] == [("01", "000.00.00.H41")]
    states = {d.Recipient: d.State for d in trace.Delivery}
    assert states["000.00.00.H41"] == "delivered"
    assert states["000.00.00.H14"] == "available"

    # the status waits for the sender, which pulls it the same way
    status_pending = vpcp.service.GetPendingDocumentIds()
    assert [(p.MessageId, p.Kind) for p in status_pending] == [(answer.MessageId, "status")]
    status = vpcp.service.GetDocument(MessageId=answer.MessageId)
    assert status.PackageBase64 == corpus("status_inbox_01.edxml")


# zeep's own truth-testing of lxml elements when it serialises an xsd:any
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_inline_edxml_through_zeep(hub: LiveHub) -> None:
    raw = corpus("edoc_replacement.edxml")
    package = parse_xml(raw, max_depth=64, max_attributes=32, max_bytes=len(raw))
    sent = client(hub, "vpcp").service.SendDocument(_value_1=package)
    assert (sent.Status, sent.DocumentId) == ("accepted", DOCUMENT_ID)

    fetched = client(hub, "h14").service.GetDocument(MessageId=sent.MessageId)
    # inline travel keeps the package's content, not its bytes (line ends, quoting)
    assert fetched.PackageBase64 != raw
    got = parse_xml(fetched.PackageBase64, max_depth=64, max_attributes=32,
                    max_bytes=len(raw) * 2)
    for name in ("Subject", "DocumentId", "ContentTransferEncoded", "BussinessDocType"):
        assert [e.text for e in got.iter(f"{{{EDXML}}}{name}")] == [
            e.text for e in package.iter(f"{{{EDXML}}}{name}")], name

    # the same package again, byte-exact this time, is the same document
    again = client(hub, "vpcp").service.SendDocument(PackageBase64=raw)
    assert (again.Status, again.MessageId) == ("duplicate", sent.MessageId)


STATUSES = sorted(p.name for p in CORPUS.glob("status*.edxml"))


def test_every_corpus_status_is_accepted_after_its_document(hub: LiveHub) -> None:
    client(hub, "vpcp").service.SendDocument(PackageBase64=corpus("edoc_update.edxml"))
    kinds: list[Any] = []
    for name in STATUSES:
        raw = corpus(name)
        sender = "vpcp" if b"<edXML:StatusCode>13<" in raw else "nghean"
        answer = client(hub, sender).service.SendStatus(PackageBase64=raw)
        kinds.append((name, answer.Kind, answer.Status))
    # each corpus status is a status of its own: accepted, none taken for a duplicate
    assert kinds == [(name, "status", "accepted") for name in STATUSES]


def test_package_faults_carry_paths_and_lines(hub: LiveHub) -> None:
    raw = corpus("edoc_update.edxml").decode("utf-8")
    broken = re.sub(r"<edXML:Subject>.*?</edXML:Subject>", "", raw, count=1, flags=re.S)
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client(hub, "vpcp").service.SendDocument(PackageBase64=broken.encode("utf-8"))
    detail = hub_fault(caught.value)
    assert caught.value.code.endswith("Sender")
    assert (detail["Title"], detail["Status"]) == ("Validation failed", "422"), detail
    [error] = detail["Error"]
    assert error["Path"] == "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader", detail
    assert "Subject" in error["Message"] and error["Line"], detail

    # a system may only send as the organisations it serves
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client(hub, "nghean").service.SendDocument(PackageBase64=corpus("edoc_update.edxml"))
    assert hub_fault(caught.value)["Code"] == "sender_not_served"


def test_hostile_inline_package_is_refused(hub: LiveHub) -> None:
    nested = "<edXML:x>" * 120 + "</edXML:x>" * 120
    call = f'<lt:SendDocument><edXML:edXML xmlns:edXML="{EDXML}">{nested}</edXML:edXML>' \
           "</lt:SendDocument>"
    r = httpx.post(f"{hub.url}/soap", content=envelope(call, security("vpcp", "key-vpcp")),
                   headers=headers("1.2", "SendDocument"))
    assert r.status_code == 500
    assert b"<lt:Code>xml_too_deep</lt:Code>" in r.content
