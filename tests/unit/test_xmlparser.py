"""The hardened XML parser: what it refuses, how fast, and the producer quirks it tolerates."""

from __future__ import annotations

import base64
import os
import time

import pytest
from lxml import etree

from core.errors import HostileInput, MalformedInput, PayloadTooLarge
from schemas.xmlparser import (
    XLINK_NS,
    element_lines,
    element_path,
    parse_xml,
    parse_xml_document,
    parse_xml_with_lines,
    text_value,
)
from tests.edxml_support import CORPUS

LIMITS = {"max_depth": 64, "max_attributes": 32, "max_bytes": 1 << 20}
EDXML = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
PREFIXES = {"xlink": XLINK_NS, "edXML": EDXML}
CTE = frozenset({"ContentTransferEncoded"})


# A refusal must not first do the work the input asks for (expand entities, build a deep
# tree). This bound is generous, far above a normal refusal and far below an attack that
# got through; it is not a benchmark (`make bench` measures speed).
REFUSAL_BOUND_S = 5.0


def refused(raw: bytes, **over: int) -> Exception:
    limits = {**LIMITS, **over}
    start = time.perf_counter()
    with pytest.raises((HostileInput, MalformedInput, PayloadTooLarge)) as info:
        parse_xml(raw, **limits)
    assert time.perf_counter() - start < REFUSAL_BOUND_S
    return info.value


def test_plain_document_parses_with_lines() -> None:
    root, lines = parse_xml_with_lines(b"<a>\n  <b/>\n  <b>x</b>\n  <c/>\n</a>", **LIMITS)
    assert root.tag == "a"
    assert lines == {"/a": 1, "/a/b[1]": 2, "/a/b[2]": 3, "/a/c": 4}


def test_element_path_indexes_only_repeated_names() -> None:
    root = etree.fromstring(b"<a><b/><b><c/></b><d/></a>")
    assert element_path(root[1][0]) == "/a/b[2]/c"
    assert element_path(root[2]) == "/a/d"
    assert element_lines(root)["/a/b[2]/c"] == 1


def test_text_value_skips_comments() -> None:
    root = etree.fromstring(b"<a>x<!-- no -->y</a>")
    assert text_value(root) == "xy"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
         b"<a>&x;</a>", "xml_doctype"),
        (b'<!DOCTYPE a SYSTEM "http://example.invalid/a.dtd"><a/>', "xml_doctype"),
        (b'<!-- hidden --><?pi x?>\n<!doctype a [<!ENTITY % p "x">]><a/>', "xml_doctype"),
        (b"<a>" * 10_000 + b"</a>" * 10_000, "xml_too_deep"),
        (b"<a>" * 65 + b"</a>" * 65, "xml_too_deep"),
        (b"<a " + b" ".join(b'a%d="1"' % i for i in range(33)) + b"/>",
         "xml_too_many_attributes"),
    ],
)
def test_hostile_input_is_refused_fast(raw: bytes, code: str) -> None:
    error = refused(raw)
    assert isinstance(error, HostileInput)
    assert error.code == code


def test_entities_without_a_doctype_are_just_malformed() -> None:
    error = refused(b"<a>&lol;</a>")
    assert isinstance(error, MalformedInput)
    assert error.code == "xml_malformed"
    assert error.errors[0].line == 1


@pytest.mark.parametrize(
    "raw",
    [
        '<?xml version="1.0" encoding="UTF-16"?><a>x</a>'.encode("utf-16"),
        '<?xml version="1.0" encoding="ISO-8859-1"?><a>Hà</a>'.encode("latin-1"),
        b"<a>H\xe0 N\xf4i</a>",
    ],
)
def test_anything_but_utf8_is_refused(raw: bytes) -> None:
    error = refused(raw)
    assert error.code == "xml_not_utf8"


def test_malformed_names_line_and_column() -> None:
    error = refused(b"<a>\n<b></a>")
    assert error.code == "xml_malformed"
    assert error.errors[0].line == 2
    assert "column" in error.detail


def test_size_limit() -> None:
    error = refused(b"<a>" + b"x" * 100 + b"</a>", max_bytes=50)
    assert isinstance(error, PayloadTooLarge)
    assert error.code == "xml_too_large"


def test_undeclared_unknown_prefix_stays_an_error() -> None:
    assert refused(b"<a><b:c/></a>").code == "xml_malformed"


def test_undeclared_xlink_is_bound_and_reported() -> None:
    raw = b'<a><r xlink:href="x"/></a>'
    doc = parse_xml_document(raw, **LIMITS)
    assert doc.root[0].get(f"{{{XLINK_NS}}}href") == "x"
    assert "xlink" in doc.quirks[0].message


def test_corpus_quirks_are_tolerated_and_bytes_untouched() -> None:
    raw = (CORPUS / "edoc.edxml").read_bytes()
    copy = bytes(raw)
    doc = parse_xml_document(raw, **LIMITS, known_prefixes=PREFIXES)
    assert raw == copy
    assert {q.message.split(":")[0] for q in doc.quirks} == {
        "the prefix edXML", "the prefix xlink"}
    attachment = doc.root.find(f"{{{EDXML}}}AttachmentEncoded/{{{EDXML}}}Attachment")
    assert attachment is not None and attachment.sourceline == 126
    junk = (CORPUS / "edoc_new.edxml").read_bytes()
    assert junk.startswith(b"1212<?xml")
    doc = parse_xml_document(junk, **LIMITS)
    assert "before the XML declaration" in doc.quirks[0].message


def test_only_a_short_run_before_the_declaration_is_skipped() -> None:
    assert refused(b"x" * 17 + b'<?xml version="1.0"?><a/>').code == "xml_malformed"
    assert refused(b'<b/><?xml version="1.0"?><a/>').code == "xml_malformed"


def test_elided_content_is_read_from_the_raw_bytes() -> None:
    body = base64.encodebytes(os.urandom(3000)).replace(b"\n", b"\r\n")
    raw = b"<a>\n<p:ContentTransferEncoded xmlns:p='urn:p'>" + body + \
        b"</p:ContentTransferEncoded>\n<b/></a>"
    doc = parse_xml_document(raw, **LIMITS, elide=CTE)
    element = doc.root[0]
    assert element in doc.elided
    assert doc.text(element) == body.decode().replace("\r\n", "\n")
    assert b"".join(doc.content_chunks(element, 100)) == body
    # the lines after the elided content are where they were
    assert doc.root[1].sourceline == parse_xml(raw, **LIMITS)[1].sourceline == 56
    assert doc.restore()[0].text == body.decode().replace("\r\n", "\n")


def test_content_that_is_not_plain_is_parsed_normally() -> None:
    raw = b"<a><ContentTransferEncoded>x&amp;y</ContentTransferEncoded></a>"
    doc = parse_xml_document(raw, **LIMITS, elide=CTE)
    assert not doc.elided
    assert doc.text(doc.root[0]) == "x&y"


def test_a_look_alike_in_a_comment_is_not_elided() -> None:
    raw = (b"<a><!-- <ContentTransferEncoded>QUJD</ContentTransferEncoded> -->"
           b"<ContentTransferEncoded>QUJD</ContentTransferEncoded></a>")
    doc = parse_xml_document(raw, **LIMITS, elide=CTE)
    assert doc.root[0].text == " <ContentTransferEncoded>QUJD</ContentTransferEncoded> "
    assert doc.text(doc.root[1]) == "QUJD"


def test_a_large_attachment_stays_out_of_the_tree() -> None:
    # over libxml2's 10 MB text-node limit, which only huge_tree (kept off) would lift
    body = base64.b64encode(b"\0" * (9 << 20))
    raw = b"<a><ContentTransferEncoded>" + body + b"</ContentTransferEncoded></a>"
    limits = {**LIMITS, "max_bytes": 32 << 20}
    with pytest.raises(PayloadTooLarge) as info:
        parse_xml(raw, **limits)
    assert info.value.code == "xml_text_too_large"  # under the byte limit, over libxml2's
    doc = parse_xml_document(raw, **limits, elide=CTE)
    assert len(doc.root[0].text) < 100
    assert sum(len(c) for c in doc.content_chunks(doc.root[0])) == len(body)
