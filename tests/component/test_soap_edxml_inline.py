"""Real edXML packages inline in SOAP calls to a hub on its embedded store: every corpus
document, and an attachment over libxml2's text node limit both ways."""

from __future__ import annotations

import base64
import io
import re
import zipfile
from collections.abc import Iterator

import httpx
import pytest

from tests.corpus_directory import CORPUS_KEYS, corpus_directory
from tests.soap_support import envelope, headers, security, zeep_client
from tests.support import CORPUS, LiveHub, run_hub

# which system sends each corpus document (by its From)
SENDERS = {"edoc.edxml": "h13", "edoc_new.edxml": "h13", "edoc_update.edxml": "vpcp",
           "edoc_replacement.edxml": "vpcp", "edoc_revocation.edxml": "vpcp"}


@pytest.fixture
def lenient_hub(make_settings) -> Iterator[LiveHub]:
    # edoc.edxml carries an attachment whose content is not base64: carried, with a warning
    settings = make_settings(validation={"attachment_base64": "warn"})
    with run_hub(settings, corpus_directory()) as live:
        yield live


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


@pytest.mark.parametrize("name", sorted(SENDERS))
def test_every_corpus_document_is_accepted_over_soap11_inline(lenient_hub: LiveHub,
                                                               name: str) -> None:
    raw = corpus(name)
    inline = raw.split(b"?>", 1)[1].decode("utf-8")  # the package without its declaration
    sender = SENDERS[name]
    r = httpx.post(f"{lenient_hub.url}/soap",
                   content=envelope(f"<lt:SendDocument>{inline}</lt:SendDocument>",
                                    security(sender, CORPUS_KEYS[sender]), "1.1"),
                   headers=headers("1.1", "SendDocument"), timeout=60)
    assert r.status_code == 200, r.text[:2000]
    assert b"<lt:Status>accepted</lt:Status>" in r.content



def test_a_large_attachment_travels_inline(make_settings) -> None:
    raw = corpus("edoc_new.edxml").decode("utf-8")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        z.writestr("van-ban.pdf", b"%PDF-1.4 " + bytes(range(256)) * 33_000)
    big = base64.b64encode(archive.getvalue()).decode("ascii")
    assert len(big) > 10_000_000  # over libxml2's text node limit
    inline = re.sub(r"(<edXML:ContentTransferEncoded[^>]*>).*?(</edXML:ContentTransferEncoded>)",
                    lambda m: m.group(1) + big + m.group(2), raw, count=1, flags=re.S)
    inline = inline.split("?>", 1)[1]
    settings = make_settings(limits={"max_body_bytes": 24 * 1024 * 1024,
                                     "max_attachment_bytes": 16 * 1024 * 1024})
    with run_hub(settings, corpus_directory()) as hub:
        r = httpx.post(f"{hub.url}/soap",
                       content=envelope(f"<lt:SendDocument>{inline}</lt:SendDocument>",
                                        security("h13", CORPUS_KEYS["h13"])),
                       headers=headers("1.2", "SendDocument"), timeout=120)
        assert r.status_code == 200, r.text[:2000]
        message_id = r.text.split("<lt:MessageId>")[1].split("<")[0]
        # a reply over 10 MB of base64 needs a client that allows huge text nodes
        h17 = zeep_client(hub.url, "h17", CORPUS_KEYS["h17"], huge=True)
        fetched = h17.service.GetDocument(MessageId=message_id)
        carried = big.encode() in fetched.PackageBase64
        assert carried, "the attachment did not come back whole"
