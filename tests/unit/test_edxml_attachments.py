"""Attachment checks shared by both forms: streaming base64, ZIP, sizes, the manifest."""

from __future__ import annotations

import base64
import binascii
import io
import json
import zipfile
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import PayloadTooLarge, ValidationFailed
from core.model import AttachmentInfo, Kind
from core.settings import Settings
from schemas.attachments import scan_base64, text_chunks
from schemas.jsonform import JsonCodec
from schemas.mapping import edxml_to_json
from tests.edxml_support import corpus


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("a.txt", "x" * 1000)
    return buf.getvalue()


@given(st.binary(max_size=3000), st.integers(1, 97), st.sampled_from(["", "\n", "\r\n", " "]),
       st.integers(1, 80))
def test_streaming_agrees_with_decoding_at_once(data: bytes, chunk: int, newline: str,
                                                width: int) -> None:
    text = base64.b64encode(data).decode()
    wrapped = newline.join(text[i : i + width] for i in range(0, len(text), width))
    scan = scan_base64(text_chunks(wrapped, chunk), limit=10**9)
    assert scan.base64_ok and scan.size == len(data)


@given(st.text(alphabet="ABCDabcd0189+/=!$ \n", max_size=40), st.integers(1, 9))
def test_streaming_refuses_what_strict_decoding_refuses(text: str, chunk: int) -> None:
    stripped = "".join(text.split())
    try:
        decoded = binascii.a2b_base64(stripped.encode(), strict_mode=True)
        canonical = base64.b64encode(decoded).decode() == stripped
    except binascii.Error:
        canonical = False
    assert scan_base64(text_chunks(text, chunk), limit=10**9).base64_ok == canonical


def test_zip_needs_its_header_and_its_end() -> None:
    good = _zip()
    assert scan_base64([base64.b64encode(good)], limit=10**6).zip_ok
    assert not scan_base64([base64.b64encode(good[:-30])], limit=10**6).zip_ok
    assert not scan_base64([base64.b64encode(b"MZ" + good[2:])], limit=10**6).zip_ok


def test_the_limit_stops_the_scan_early() -> None:
    chunks = iter([base64.b64encode(b"\0" * 3000)] * 1000)
    scan = scan_base64(chunks, limit=5000)
    assert scan.over_limit
    assert len(list(chunks)) > 990  # most of the body was never read


def document(**over: Any) -> dict[str, Any]:
    pkg = edxml_to_json(corpus("edoc_update.edxml"))
    pkg.update(over)
    return pkg


def read_json(pkg: dict[str, Any], **settings: Any) -> Any:
    return JsonCodec(Settings(**settings)).read(json.dumps(pkg).encode(), Kind.DOCUMENT)


def codes(error: ValidationFailed) -> list[str]:
    """The JSON form keeps `validation_failed` for the whole; each error has its code."""
    assert error.code == "validation_failed"
    return [str(e.as_dict()["code"]) for e in error.errors]


def test_json_form_attachment_is_checked_like_edxml() -> None:
    envelope = read_json(document())
    assert envelope.attachments[0].size == 270823
    bad = document(attachments=[{**document()["attachments"][0], "content": "not base64!"}])
    with pytest.raises(ValidationFailed) as info:
        read_json(bad)
    assert codes(info.value) == ["attachment_not_base64"]
    assert info.value.errors[0].path == "/attachments/0/content"
    assert read_json(bad, validation={"attachment_base64": "warn"}).warnings
    with pytest.raises(PayloadTooLarge) as too_big:
        read_json(document(), limits={"max_attachment_bytes": 1000})
    assert too_big.value.code == "attachment_too_large"
    assert too_big.value.detail == "the attachment at /attachments/0 is over 1000 bytes"
    assert [e.path for e in too_big.value.errors] == ["/attachments/0"]


def test_json_form_manifest_is_checked_both_ways() -> None:
    attachment = document()["attachments"][0]
    pkg = document(manifest={"version": "1.0", "references": [
        {"contentId": "209"}, {"contentId": "cid:404"}]})
    with pytest.raises(ValidationFailed) as info:
        read_json(pkg)
    assert codes(info.value) == ["manifest_dangling_reference"]
    assert [e.path for e in info.value.errors] == ["/manifest/references/1/contentId"]
    pkg = document(attachments=[attachment, {**attachment, "contentId": "cid:210"}],
                   manifest={"references": [{"contentId": "cid:209"}]})
    with pytest.raises(ValidationFailed) as info:
        read_json(pkg)
    assert codes(info.value) == ["attachment_unreferenced"]
    assert [e.path for e in info.value.errors] == ["/attachments/1/contentId"]


def test_json_form_signature_must_be_a_signature() -> None:
    with pytest.raises(ValidationFailed) as info:
        read_json(document(signature={"xml": "<Signature><unclosed></Signature>"}))
    assert codes(info.value) == ["signature_invalid"]
    with pytest.raises(ValidationFailed) as info:
        read_json(document(signature={"xml": '<!DOCTYPE x [<!ENTITY a "b">]><Signature/>'}))
    assert "DOCTYPE" in info.value.errors[0].message
    for around in ('<?xml version="1.0"?>{}', "<!-- c -->{}", "{}<?pi x?>"):
        xml = around.format('<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"/>')
        with pytest.raises(ValidationFailed) as info:
            read_json(document(signature={"xml": xml}))
        assert codes(info.value) == ["signature_invalid"], xml
    read_json(document(signature={"xml": '<Signature xmlns="http://www.w3.org/2000/09/'
                                         'xmldsig#"/>'}))


@pytest.mark.parametrize("limit", [1, 2])
def test_json_form_attachment_count_is_limited_by_the_settings(limit: int) -> None:
    attachment = document()["attachments"][0]
    two = document(attachments=[attachment, {**attachment, "contentId": "cid:210"}])
    read_json(document(), limits={"max_attachments": limit})  # one is within either limit
    if limit == 2:
        read_json(two, limits={"max_attachments": limit})  # as many as allowed
        return
    with pytest.raises(ValidationFailed) as info:
        read_json(two, limits={"max_attachments": limit})
    assert codes(info.value) == ["too_many_attachments"]
    [error] = info.value.errors
    assert (error.path, error.message, error.message_vi) == (
        "/attachments", "expected at most 1 attachments, found 2",
        "tối đa 1 tệp đính kèm, nhận được 2")


def test_json_form_recipient_count_is_limited_by_the_settings() -> None:
    assert len(read_json(document(), limits={"max_recipients": 3}).recipients) == 3
    with pytest.raises(ValidationFailed) as info:
        read_json(document(), limits={"max_recipients": 2})
    assert codes(info.value) == ["too_many_recipients"]
    [error] = info.value.errors
    assert (error.path, error.message, error.message_vi) == (
        "/to", "expected at most 2 recipients, found 3", "tối đa 2 nơi nhận, nhận được 3")


def test_json_form_attachments_reach_the_envelope_as_described() -> None:
    attachment = document()["attachments"][0]
    envelope = read_json(document(attachments=[{**attachment, "contentType": "Application/ZIP"}]))
    assert envelope.attachments == (
        AttachmentInfo("209", "1896_QD-TTg_m_294779.doc", "application/zip", 270823),)
    # carried under the lenient policy, text that is not base64 counts by its own bytes
    lenient = read_json(document(attachments=[{**attachment, "content": "not base64"}]),
                        validation={"attachment_base64": "warn"})
    assert [a.size for a in lenient.attachments] == [len(b"not base64")]
    assert [w.path for w in lenient.warnings] == ["/attachments/0/content"]
    # name and type are optional
    bare = {"contentId": attachment["contentId"], "content": attachment["content"]}
    assert read_json(document(attachments=[bare])).attachments == (
        AttachmentInfo("209", "", "", 270823),)


def test_json_form_manifest_without_references() -> None:
    empty = {"version": "1.0"}
    pkg = {k: v for k, v in document(manifest=empty).items() if k != "attachments"}
    assert read_json(pkg).attachments == ()  # says nothing, lists nothing: fine
    with pytest.raises(ValidationFailed) as info:
        read_json(document(manifest=empty))  # says nothing of an attachment that is there
    assert codes(info.value) == ["attachment_unreferenced"]
    assert [e.path for e in info.value.errors] == ["/attachments/0/contentId"]


def test_json_form_text_that_xml_cannot_carry_is_refused_once_at_its_path() -> None:
    with pytest.raises(ValidationFailed) as info:
        read_json(document(subject="a\x01b"))
    assert codes(info.value) == ["value_not_xml"]
    assert [e.path for e in info.value.errors] == ["/subject"]
    assert (info.value.detail, info.value.detail_vi) == (
        "1 field of the package is not valid", "1 trường không hợp lệ")
    attachment = {**document()["attachments"][0], "content": "not base64 \x01"}
    with pytest.raises(ValidationFailed) as info:
        read_json(document(attachments=[attachment]), validation={"attachment_base64": "warn"})
    assert [e.path for e in info.value.errors] == ["/attachments/0/content"]  # not twice
    assert codes(info.value) == ["value_not_xml"]


def test_json_form_ids_must_be_unique() -> None:
    attachment = document()["attachments"][0]
    with pytest.raises(ValidationFailed) as info:
        read_json(document(attachments=[attachment, {**attachment, "contentId": "209"}]))
    assert codes(info.value) == ["attachment_duplicate_id"]
    assert [e.path for e in info.value.errors] == ["/attachments/1/contentId"]
    assert info.value.errors[0].message_vi == "ContentId '209' của tệp đính kèm bị trùng"
    with pytest.raises(ValidationFailed) as info:
        read_json(document(manifest={"references": [{"contentId": "209"},
                                                     {"contentId": "cid:209"}]}))
    assert codes(info.value) == ["reference_duplicate_id"]
    assert [e.path for e in info.value.errors] == ["/manifest/references/1/contentId"]
    assert info.value.errors[0].message_vi == "ContentId '209' của tham chiếu bị trùng"
