"""The JSON form codec: valid packages become Envelopes, invalid ones name every bad path."""

from __future__ import annotations

import json

import pytest

from core.errors import MalformedInput, ValidationFailed
from core.model import Form, Kind
from core.settings import Settings
from schemas.jsonform import JsonCodec


def document(**over: object) -> dict:
    doc = {
        "from": {"organId": "000.00.00.H57", "organName": "UBND thành phố Huế"},
        "to": [{"organId": "000.00.02.H57"}, {"organId": "000.01.21.H57"}],
        "documentId": "000.00.00.H57,2026/11/27,15/QĐ-UBND",
        "code": {"codeNumber": "15", "codeNotation": "QĐ-UBND"},
        "promulgationInfo": {"place": "Huế", "promulgationDate": "2026/11/27"},
        "documentType": {"type": "1", "typeName": "Quyết định"},
        "subject": "Về việc thử nghiệm",
    }
    doc.update(over)
    return doc


@pytest.fixture(scope="module")
def codec() -> JsonCodec:
    return JsonCodec(Settings())


def test_valid_document_becomes_an_envelope(codec: JsonCodec) -> None:
    env = codec.read(json.dumps(document()).encode(), Kind.DOCUMENT)
    assert env.form is Form.JSON
    assert env.sender == "000.00.00.H57"
    assert env.recipients == ("000.00.02.H57", "000.01.21.H57")
    assert env.business_doc_type == "0"


def test_every_offending_path_is_named(codec: JsonCodec) -> None:
    bad = document(subject="", code={"codeNumber": "123456789012", "codeNotation": "x"})
    bad["to"][0]["organId"] = "0" * 14
    with pytest.raises(ValidationFailed) as info:
        # the lengths past the standard's maxima are refused by the strict profile
        codec.read(json.dumps(bad).encode(), Kind.DOCUMENT, "strict")
    paths = {e.path for e in info.value.errors}
    assert paths == {"/subject", "/code/codeNumber", "/to/0/organId"}


def test_impossible_date_is_refused(codec: JsonCodec) -> None:
    bad = document(promulgationInfo={"promulgationDate": "2026/02/30"})
    with pytest.raises(ValidationFailed) as info:
        codec.read(json.dumps(bad).encode(), Kind.DOCUMENT)
    assert [e.path for e in info.value.errors] == ["/promulgationInfo/promulgationDate"]


def test_not_json_is_malformed(codec: JsonCodec) -> None:
    with pytest.raises(MalformedInput) as info:
        codec.read(b"{not json", Kind.DOCUMENT)
    assert info.value.code == "json_malformed"


def test_deep_nesting_is_refused(codec: JsonCodec) -> None:
    with pytest.raises(MalformedInput) as info:
        codec.read(b"[" * 5000 + b"]" * 5000, Kind.DOCUMENT)
    assert info.value.code == "json_too_deep"


def test_status_sent_to_the_document_endpoint_is_the_wrong_kind(codec: JsonCodec) -> None:
    status = {"from": {"organId": "000.00.02.H57"},
              "responseFor": {"organId": "000.00.00.H57", "documentId": "x"},
              "statusCode": "01", "timestamp": "2026/11/27 09:00:00"}
    with pytest.raises(ValidationFailed) as info:
        codec.read(json.dumps(status).encode(), Kind.DOCUMENT)
    assert info.value.code == "wrong_package_kind"
    with pytest.raises(ValidationFailed) as info:
        codec.read(json.dumps(document()).encode(), Kind.STATUS)
    assert info.value.code == "wrong_package_kind"
