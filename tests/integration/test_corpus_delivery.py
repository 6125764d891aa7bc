"""Every corpus package goes in over REST, SOAP 1.1 and SOAP 1.2 and reaches its recipients:
byte for byte where they want edXML, as its JSON form (losing nothing) where they want JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from core.model import Form
from schemas.mapping import convert, edxml_to_json, package_differences
from tests.corpus_directory import CORPUS_KEYS, CORPUS_ORGS, corpus_directory
from tests.soap_support import zeep_client
from tests.support import CORPUS, LiveHub, Receiver, run_hub, wait_until

pytestmark = pytest.mark.integration

# the sender of each document (by its From); statuses come after the document they answer
DOCUMENTS = {"edoc.edxml": "h13", "edoc_new.edxml": "h13", "edoc_update.edxml": "vpcp",
             "edoc_replacement.edxml": "vpcp", "edoc_revocation.edxml": "vpcp"}
STATUSES = sorted(p.name for p in CORPUS.glob("status*.edxml"))
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


def test_every_corpus_package_reaches_its_recipients(hub: LiveHub, receiver: Receiver,
                                                     channel: str) -> None:
    expected: list[tuple[str, str, bytes]] = []  # (message id, receiving system, raw)
    for name, system in DOCUMENTS.items():
        raw = (CORPUS / name).read_bytes()
        sent = send(hub, channel, system, raw, status=False)
        expected += [(sent["id"], CORPUS_ORGS[org][0], raw) for org in sent["recipients"]]
    for name in STATUSES:
        raw = (CORPUS / name).read_bytes()
        system = "vpcp" if b"<edXML:StatusCode>13<" in raw else "nghean"
        sent = send(hub, channel, system, raw, status=True)
        expected += [(sent["id"], CORPUS_ORGS[org][0], raw) for org in sent["recipients"]]
    assert len(expected) == 5 + 3 * 2 + len(STATUSES)  # update/revocation/replacement: 3 each

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
