"""The edXML codec on the real corpus: every package accepted, the Envelope right."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ValidationFailed
from core.model import Form, Kind
from core.settings import Settings
from schemas.codec import CodecRegistry
from schemas.edxml_codec import EdxmlCodec
from tests.edxml_support import corpus, corpus_files, kind_of_file, mutate


@pytest.fixture(scope="module")
def codec() -> EdxmlCodec:
    return EdxmlCodec(Settings(validation={"attachment_base64": "warn"}))


@pytest.fixture(scope="module")
def strict() -> EdxmlCodec:
    return EdxmlCodec(Settings())


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_every_corpus_package_is_accepted(codec: EdxmlCodec, path: Path) -> None:
    kind = kind_of_file(path)
    envelope = codec.read(path.read_bytes(), kind)
    assert envelope.kind is kind
    assert envelope.form is Form.EDXML
    assert envelope.sender
    assert envelope.recipients
    assert "attachments" not in envelope.header
    if kind is Kind.STATUS:
        # status_finish_06.edxml carries 06; status.edxml, the plain example, 01
        expected = "01" if path.name == "status.edxml" else path.stem.rsplit("_", 1)[-1]
        assert envelope.status_code == expected
    else:
        assert envelope.document_id and envelope.attachments


def test_corpus_except_the_placeholder_is_accepted_strictly(strict: EdxmlCodec) -> None:
    for path in corpus_files():
        if path.name != "edoc.edxml":
            strict.read(path.read_bytes(), kind_of_file(path))


def test_document_envelope(codec: EdxmlCodec) -> None:
    envelope = codec.read(corpus("edoc_update.edxml"), Kind.DOCUMENT)
    assert envelope.sender == "000.00.00.G22"
    assert envelope.recipients == ("000.00.00.H41", "000.00.00.H14", "000.00.00.G17")
    assert envelope.business_doc_type == "2"
    assert envelope.subject.startswith("V/v kết nối")
    [attachment] = envelope.attachments
    assert attachment.content_id == "209"
    assert attachment.content_type == "application/zip"
    assert attachment.size == 270823
    assert envelope.header["traceHeaderList"]["bussiness"]["bussinessDocumentInfo"][
        "receiverList"][1] == {"organId": "000.00.00.H14", "receiverType": "1"}


def test_status_envelope(codec: EdxmlCodec) -> None:
    envelope = codec.read(corpus("status_rejection_02.edxml"), Kind.STATUS)
    assert envelope.status_code == "02"
    assert envelope.response_for is not None
    assert envelope.response_for.document_id == "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
    assert envelope.recipients == ("000.00.00.G22",)


def test_quirks_and_the_placeholder_are_warnings(codec: EdxmlCodec) -> None:
    envelope = codec.read(corpus("edoc.edxml"), Kind.DOCUMENT)
    messages = " ".join(w.message for w in envelope.warnings)
    assert "xlink" in messages and "edXML" in messages and "not base64" in messages
    envelope = codec.read(corpus("edoc_new.edxml"), Kind.DOCUMENT)
    assert "'1212'" in envelope.warnings[0].message
    # non-standard ids pass the schema: the id policy is applied against the directory
    assert envelope.recipients == ("28.22.H17",)


def test_the_placeholder_is_refused_under_the_strict_policy(strict: EdxmlCodec) -> None:
    with pytest.raises(ValidationFailed) as info:
        strict.read(corpus("edoc.edxml"), Kind.DOCUMENT)
    assert info.value.code == "attachment_not_base64"
    [error] = info.value.errors
    assert error.path == "/edXML/AttachmentEncoded/Attachment/ContentTransferEncoded"
    assert error.line == 130


@pytest.mark.parametrize(("name", "endpoint"), [("status.edxml", Kind.DOCUMENT),
                                                ("edoc_new.edxml", Kind.STATUS)])
def test_a_package_of_the_other_kind_is_refused(codec: EdxmlCodec, name: str,
                                                endpoint: Kind) -> None:
    with pytest.raises(ValidationFailed) as info:
        codec.read(corpus(name), endpoint)
    assert info.value.code == "wrong_package_kind"
    assert info.value.errors[0].path == "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader"


def test_a_status_without_status_code_is_still_a_status(codec: EdxmlCodec) -> None:
    raw = mutate(corpus("status.edxml"), "<edXML:StatusCode>01</edXML:StatusCode>", "")
    with pytest.raises(ValidationFailed) as info:
        codec.read(raw, Kind.STATUS)
    assert info.value.code == "element_missing"
    [error] = info.value.errors
    assert error.path == "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader"
    assert "StatusCode" in error.message and "StatusCode" in error.message_vi


def test_the_registry_has_both_forms() -> None:
    registry = CodecRegistry(Settings())
    assert isinstance(registry.for_media_type("application/xml; charset=utf-8"), EdxmlCodec)
    assert registry.for_form(Form.JSON).form is Form.JSON
