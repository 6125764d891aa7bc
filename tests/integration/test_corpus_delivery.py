"""Every corpus package goes in over REST, SOAP 1.1 and SOAP 1.2 and reaches its recipients:
byte for byte where they want edXML, as its JSON form (losing nothing) where they want JSON;
and every package the manifest says to refuse is refused over the wire with its code."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from core.model import Form, Kind
from core.settings import Limits
from schemas.edxml_package import parse_package
from schemas.mapping import convert, edxml_to_json, package_differences
from tests.corpus_directory import CORPUS_KEYS, CORPUS_ORGS, corpus_directory
from tests.edxml_support import (
    NS,
    CorpusEntry,
    accepted_entries,
    entry,
    refused_entries,
)
from tests.soap_support import zeep_client
from tests.support import LiveHub, Receiver, run_hub, wait_until

pytestmark = pytest.mark.integration

# documents first: statuses come after the document they answer
TODAY = sorted((e for e in accepted_entries() if e.accepted_today),
               key=lambda e: (e.kind is Kind.STATUS, e.name))
JSON_RECEIVER = "h14"  # UBND H14 asks for JSON; everyone else for edXML


@pytest.fixture(params=["rest", "soap11", "soap12"])
def channel(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def hub(make_settings, pg_url: str, redis_url: str, receiver: Receiver) -> Iterator[LiveHub]:
    receive = {
        system: {"mode": "push", "url": f"{receiver.url}/{system}",
                 "format": "json" if system == JSON_RECEIVER else "edxml"}
        for system, _ in CORPUS_ORGS.values()
    }
    # edoc.edxml's attachment is a template placeholder, not base64: carried with a warning
    assert {e.name for e in TODAY if e.settings} == {"edoc.edxml"}
    settings = make_settings(database_url=pg_url, redis_url=redis_url, embedded_worker=True,
                             validation={"attachment_base64": "warn"})
    with run_hub(settings, corpus_directory(receive)) as live:
        yield live


def send(hub: LiveHub, channel: str, system: str, raw: bytes, status: bool) -> dict:
    if channel == "rest":
        r = httpx.post(f"{hub.url}/api/v1/{'statuses' if status else 'documents'}",
                       content=raw, timeout=60, headers={
                           "Authorization": f"Bearer {CORPUS_KEYS[system]}",
                           "Content-Type": "application/xml"})
        assert r.status_code == 202, r.text[:2000]
        return {"id": r.json()["id"], "recipients": r.json()["recipients"]}
    port = "LienthongSoap11" if channel == "soap11" else "LienthongSoap12"
    client = zeep_client(hub.url, system, CORPUS_KEYS[system], port=port)
    op = client.service.SendStatus if status else client.service.SendDocument
    answer = op(PackageBase64=raw)
    assert answer.Status == "accepted"
    return {"id": answer.MessageId, "recipients": list(answer.Recipients.OrganId)}


def sender_and_addressees(raw: bytes) -> tuple[str, set[str]]:
    """The package's From and whom it names (a document its To units, a status the sender of
    the document it answers), read without validating: the hub alone judges the package."""
    header = parse_package(raw, Limits()).root.find(f".//{{{NS}}}MessageHeader")
    assert header is not None

    def ids(name: str) -> set[str]:
        return {el.findtext(f"{{{NS}}}OrganId", "") for el in header.findall(f"{{{NS}}}{name}")}

    [sender] = ids("From")
    status = header.find(f"{{{NS}}}StatusCode") is not None
    return sender, ids("ResponseFor") if status else ids("To")


def recalled(raw: bytes) -> tuple[str, str] | None:
    """A recall (status 13): its sender and the DocumentId it recalls."""
    header = parse_package(raw, Limits()).root.find(f".//{{{NS}}}MessageHeader")
    assert header is not None
    if header.findtext(f"{{{NS}}}StatusCode") != "13":
        return None
    return (header.findtext(f"{{{NS}}}From/{{{NS}}}OrganId", ""),
            header.findtext(f"{{{NS}}}ResponseFor/{{{NS}}}DocumentId", ""))


def deliver_and_check(hub: LiveHub, receiver: Receiver, channel: str,
                      entries: list[CorpusEntry]) -> None:
    expected: list[tuple[str, str, bytes]] = []  # (message id, receiving system, raw)
    # (sender, DocumentId) -> every unit its packages reached (docs/lifecycle.md)
    reached: dict[tuple[str, str], set[str]] = {}
    for known in entries:
        raw = known.raw()
        sender, addressees = sender_and_addressees(raw)
        recall = recalled(raw)
        if recall is not None:  # a recall reaches every unit the document reached
            addressees |= reached.get(recall, set())
        sent = send(hub, channel, CORPUS_ORGS[sender][0], raw, status=known.kind is Kind.STATUS)
        assert set(sent["recipients"]) == addressees, known.name
        if known.kind is Kind.DOCUMENT:
            document_id = parse_package(raw, Limits()).root.findtext(
                f".//{{{NS}}}MessageHeader/{{{NS}}}DocumentId", "")
            reached.setdefault((sender, document_id), set()).update(sent["recipients"])
        expected += [(sent["id"], CORPUS_ORGS[org][0], raw) for org in sent["recipients"]]

    def arrived() -> bool:
        return all(any(r.headers.get("X-Lienthong-Message-Id") == mid
                       for r in receiver.at(f"/{system}")) for mid, system, _ in expected)

    wait_until(arrived, timeout=60, what="every corpus delivery")
    for message_id, system, raw in expected:
        got = [r for r in receiver.at(f"/{system}")
               if r.headers["X-Lienthong-Message-Id"] == message_id]
        assert len(got) == 1, (system, message_id)
        if system == JSON_RECEIVER:
            assert got[0].headers["Content-Type"].startswith("application/json")
            as_json = json.loads(got[0].body)
            assert as_json == edxml_to_json(raw)
            # and the JSON form carries everything: back to edXML, nothing differs
            assert package_differences(convert(got[0].body, Form.JSON, Form.EDXML), raw) == []
        else:
            assert got[0].headers["Content-Type"].startswith("application/xml")
            assert got[0].body == raw, f"{system} did not get the sender's bytes"


def test_every_corpus_package_reaches_its_recipients(hub: LiveHub, receiver: Receiver,
                                                     channel: str) -> None:
    assert {"edoc_new.edxml", "truclienthong_edoc_new_a80.edxml",
            "tltvbqn_edoc_new_k19.edxml"} <= {e.name for e in TODAY}
    deliver_and_check(hub, receiver, channel, TODAY)


@pytest.mark.parametrize("name", [e.name for e in accepted_entries() if e.needs])
def test_a_package_only_the_interop_profile_accepts_reaches_its_recipients(
        hub: LiveHub, receiver: Receiver, channel: str, name: str) -> None:
    deliver_and_check(hub, receiver, channel, [entry(name)])


def test_a_refused_corpus_package_is_refused_over_the_wire(hub: LiveHub) -> None:
    for known in refused_entries():
        status = known.kind is Kind.STATUS
        r = httpx.post(f"{hub.url}/api/v1/{'statuses' if status else 'documents'}",
                       content=known.raw(), timeout=60, headers={
                           "Authorization": f"Bearer {CORPUS_KEYS['vpcp']}",
                           "Content-Type": "application/json" if known.form is Form.JSON
                           else "application/xml"})
        assert 400 <= r.status_code < 500, (known.name, r.status_code)
        assert r.json()["code"] == known.code, known.name


def test_json_sent_over_rest_reaches_an_edxml_receiver_as_edxml(
        make_settings, pg_url: str, redis_url: str, receiver: Receiver) -> None:
    import base64
    import io
    import zipfile

    from core.model import Kind
    from schemas.edxml_codec import EdxmlCodec
    from tests.support import DEPARTMENT, KEYS, body, document, hue_directory

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("quyet-dinh.pdf", b"%PDF-1.7 demo")
    doc = document(201, to=(DEPARTMENT,), attachments=[{
        "contentId": "cid:qd-201", "attachmentName": "quyet-dinh.zip",
        "contentType": "application/zip", "content": base64.b64encode(buf.getvalue()).decode()}])
    settings = make_settings(database_url=pg_url, redis_url=redis_url, embedded_worker=True)
    with run_hub(settings, hue_directory(receiver.url, edxml_department=True)) as hub:
        r = httpx.post(f"{hub.url}/api/v1/documents", content=body(doc), headers={
            "Authorization": f"Bearer {KEYS['province']}", "Content-Type": "application/json"})
        assert r.status_code == 202, r.text
        wait_until(lambda: receiver.at("/department"), what="edXML delivery")
    got = receiver.at("/department")[0]
    assert got.headers["Content-Type"].startswith("application/xml")
    envelope = EdxmlCodec(settings).read(got.body, Kind.DOCUMENT)  # a valid edXML package
    assert envelope.document_id == doc["documentId"]
    assert [a.size for a in envelope.attachments] == [len(buf.getvalue())]
    back = edxml_to_json(got.body)
    assert back["subject"] == doc["subject"]
    assert base64.b64decode(back["attachments"][0]["content"]) == buf.getvalue()
