"""The JSON form codec: valid packages become Envelopes, invalid ones name every bad path."""

from __future__ import annotations

import json

import pytest

from core.errors import MalformedInput, ValidationFailed
from core.model import Form, Kind, ResponseFor
from core.settings import Settings
from schemas.jsonform import JsonCodec, detect_kind


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


@pytest.mark.parametrize(("other_info", "priority"), [({"priority": "3"}, 3), ({}, 0), (None, 0)])
def test_the_priority_comes_from_other_info(codec: JsonCodec, other_info: dict | None,
                                            priority: int) -> None:
    doc = document() if other_info is None else document(otherInfo=other_info)
    assert codec.read(json.dumps(doc).encode(), Kind.DOCUMENT).priority == priority


def test_valid_status_becomes_an_envelope_for_the_document_sender(codec: JsonCodec) -> None:
    status = {"from": {"organId": "000.00.02.H57"},
              "responseFor": {"organId": "000.00.00.H57", "documentId": "x",
                              "code": "15/QĐ-UBND"},
              "statusCode": "03", "timestamp": "2026/11/27 09:00:00"}
    env = codec.read(json.dumps(status).encode(), Kind.STATUS)
    assert (env.kind, env.sender, env.recipients) == (Kind.STATUS, "000.00.02.H57",
                                                      ("000.00.00.H57",))
    assert env.response_for == ResponseFor("000.00.00.H57", "x", "15/QĐ-UBND")
    assert (env.document_id, env.status_code) == (None, "03")
    del status["responseFor"]["code"]  # optional: then empty
    assert codec.read(json.dumps(status).encode(), Kind.STATUS).response_for == ResponseFor(
        "000.00.00.H57", "x", "")
    status["responseFor"]["promulgationDate"] = "2026/02/30"
    with pytest.raises(ValidationFailed) as info:
        codec.read(json.dumps(status).encode(), Kind.STATUS)
    assert [e.path for e in info.value.errors] == ["/responseFor/promulgationDate"]


def test_every_offending_path_is_named(codec: JsonCodec) -> None:
    bad = document(subject="", code={"codeNumber": "123456789012", "codeNotation": "x"})
    bad["to"][0]["organId"] = "0" * 14
    with pytest.raises(ValidationFailed) as info:
        # the lengths past the standard's maxima are refused by the strict profile
        codec.read(json.dumps(bad).encode(), Kind.DOCUMENT, "strict")
    paths = {e.path for e in info.value.errors}
    assert paths == {"/subject", "/code/codeNumber", "/to/0/organId"}
    assert (info.value.detail, info.value.detail_vi) == (
        "3 fields of the document package do not follow the JSON form",
        "3 trường của gói tin không đúng dạng JSON quy định")


def test_impossible_date_is_refused(codec: JsonCodec) -> None:
    bad = document(promulgationInfo={"promulgationDate": "2026/02/30"})
    with pytest.raises(ValidationFailed) as info:
        codec.read(json.dumps(bad).encode(), Kind.DOCUMENT)
    [error] = info.value.errors
    assert error.path == "/promulgationInfo/promulgationDate"
    assert (error.message, error.message_vi) == ("expected a real calendar day, found '2026/02/30'",
                                                 "'2026/02/30' không phải là ngày có thật")


def test_an_impossible_date_of_an_earlier_document_is_refused(codec: JsonCodec) -> None:
    bad = document(responseFor=[{"promulgationDate": "2026/02/30"}])
    with pytest.raises(ValidationFailed) as info:
        codec.read(json.dumps(bad).encode(), Kind.DOCUMENT)
    assert [e.path for e in info.value.errors] == ["/responseFor/0/promulgationDate"]


def test_not_json_is_malformed(codec: JsonCodec) -> None:
    with pytest.raises(MalformedInput) as info:
        codec.read(b"{not json", Kind.DOCUMENT)
    assert info.value.code == "json_malformed"


def test_deep_nesting_is_refused(codec: JsonCodec) -> None:
    with pytest.raises(MalformedInput) as info:
        codec.read(b"[" * 5000 + b"]" * 5000, Kind.DOCUMENT)  # past the parser's recursion
    assert info.value.code == "json_too_deep"
    assert (info.value.detail, info.value.detail_vi) == (
        "body nests too deeply", "JSON lồng nhau quá sâu")


def nested(depth: int) -> bytes:
    """An object `depth` levels deep: {"a": {"a": ... {} ...}}."""
    return b'{"a": ' * (depth - 1) + b"{}" + b"}" * (depth - 1)


@pytest.mark.parametrize("limit", [3, 32])
def test_nesting_deeper_than_the_configured_limit_is_refused(limit: int) -> None:
    codec = JsonCodec(Settings(limits={"max_json_depth": limit}))
    with pytest.raises(MalformedInput) as info:
        codec.read(nested(limit + 1), Kind.DOCUMENT)
    assert info.value.code == "json_too_deep"
    assert info.value.detail == f"body nests deeper than {limit} levels"
    assert info.value.detail_vi == f"JSON lồng nhau sâu hơn {limit} mức"
    # at the limit, the body is read and judged by the schema instead
    with pytest.raises(ValidationFailed) as info:
        codec.read(nested(limit), Kind.DOCUMENT)
    assert info.value.code == "validation_failed"


def test_nesting_is_counted_through_lists_and_objects() -> None:
    codec = JsonCodec(Settings(limits={"max_json_depth": 4}))
    with pytest.raises(MalformedInput) as info:
        codec.read(b'{"to": [{"a": [1]}]}', Kind.DOCUMENT)  # object, list, object, list, 1
    assert info.value.code == "json_too_deep"
    with pytest.raises(ValidationFailed):
        codec.read(b'{"to": [{"a": 1}]}', Kind.DOCUMENT)


def test_a_body_that_is_not_utf8_names_the_byte(codec: JsonCodec) -> None:
    with pytest.raises(MalformedInput) as info:
        codec.read('{"subject": "Hà"}'.encode("latin-1"), Kind.DOCUMENT)
    assert info.value.code == "json_malformed"
    assert info.value.detail == "body is not UTF-8 at byte 14"
    assert info.value.detail_vi == "Nội dung không phải UTF-8 tại byte 14"


def test_a_body_that_is_not_json_names_line_and_column(codec: JsonCodec) -> None:
    with pytest.raises(MalformedInput) as info:
        codec.read(b'{\n  "subject": x\n}', Kind.DOCUMENT)
    assert info.value.code == "json_malformed"
    assert info.value.detail == "body is not JSON: Expecting value at line 2 column 14"
    assert info.value.detail_vi == "Nội dung không phải JSON: dòng 2, cột 14"
    [error] = info.value.errors
    assert (error.path, error.line, error.message) == (
        "/", 2, "expected well-formed JSON, found a syntax error at column 14")


def test_status_sent_to_the_document_endpoint_is_the_wrong_kind(codec: JsonCodec) -> None:
    status = {"from": {"organId": "000.00.02.H57"},
              "responseFor": {"organId": "000.00.00.H57", "documentId": "x"},
              "statusCode": "01", "timestamp": "2026/11/27 09:00:00"}
    with pytest.raises(ValidationFailed) as info:
        codec.read(json.dumps(status).encode(), Kind.DOCUMENT)
    assert info.value.code == "wrong_package_kind"
    [error] = info.value.errors
    assert (error.path, error.message) == (
        "/", "expected a document package, found a status package")
    with pytest.raises(ValidationFailed) as info:
        codec.read(json.dumps(document()).encode(), Kind.STATUS)
    assert info.value.code == "wrong_package_kind"


def test_a_body_that_is_not_an_object_is_refused(codec: JsonCodec) -> None:
    with pytest.raises(ValidationFailed) as info:
        codec.read(b'["not", "a", "package"]', Kind.DOCUMENT)
    assert (info.value.detail, info.value.detail_vi) == (
        "a package is a JSON object", "Gói tin phải là một đối tượng JSON")
    [error] = info.value.errors
    assert (error.path, error.message, error.message_vi) == (
        "/", "expected an object", "cần một đối tượng JSON")


@pytest.mark.parametrize(("keys", "kind"), [
    ({"statusCode"}, Kind.STATUS),
    ({"to"}, Kind.DOCUMENT),
    ({"subject"}, Kind.DOCUMENT),
    ({"documentId"}, Kind.DOCUMENT),
    ({"to", "subject", "documentId"}, Kind.DOCUMENT),
    ({"statusCode", "subject"}, None),  # says both: the schema decides
    ({"statusCode", "documentId"}, None),
    ({"from"}, None),
])
def test_the_kind_of_a_package_comes_from_its_own_fields(keys: set[str], kind: Kind | None
                                                        ) -> None:
    assert detect_kind(dict.fromkeys(keys, "x")) is kind


def test_any_one_document_field_sent_as_a_status_is_the_wrong_kind(codec: JsonCodec) -> None:
    for key in ("to", "subject", "documentId"):
        with pytest.raises(ValidationFailed) as info:
            codec.read(json.dumps({"from": {"organId": "000.00.00.H57"}, key: "x"}).encode(),
                       Kind.STATUS)
        assert info.value.code == "wrong_package_kind", key
