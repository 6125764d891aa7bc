"""edXML <-> JSON: nothing lost either way, on the corpus and on generated packages."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from core.errors import ValidationFailed
from core.model import Form, Kind
from core.settings import Settings
from schemas.edxml_codec import EdxmlCodec
from schemas.edxml_spec import NS, PACKAGE, ListOf, Node, Record
from schemas.jsonform import JsonCodec
from schemas.mapping import (
    convert,
    edxml_to_json,
    json_to_edxml,
    package_differences,
)
from tests.edxml_strategies import packages
from tests.edxml_support import corpus, corpus_files, corpus_params, kind_of_file

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("path", corpus_params())
def test_corpus_round_trip_loses_nothing(path: Path) -> None:
    raw = path.read_bytes()
    pkg = edxml_to_json(raw)
    again = json_to_edxml(pkg)
    assert package_differences(raw, again) == []
    assert edxml_to_json(again) == pkg


def test_attachments_survive_byte_for_byte() -> None:
    raw = corpus("edoc_replacement.edxml")
    pkg = edxml_to_json(raw)
    start = raw.index(b"UEsDB")
    original = base64.b64decode(raw[start : raw.index(b"<", start)])
    assert base64.b64decode(pkg["attachments"][0]["content"]) == original
    back = edxml_to_json(json_to_edxml(pkg))
    assert base64.b64decode(back["attachments"][0]["content"]) == original


def test_what_the_attachments_do_not_say_is_kept_in_the_manifest() -> None:
    pkg = edxml_to_json(corpus("edoc.edxml"))
    assert pkg["manifest"] == {"version": "1.0", "references": [{
        "href": "", "contentId": "cid:36b8a92e-f054-11e7-842b-005056b672fc",
        "attachmentName": "GUIDE_INSTALL OPENVPN.SIGNED.PDF", "description": "Description 1"}]}
    assert pkg["attachments"][0]["contentType"] == "application/pdf"
    # a manifest that only repeats the attachments is left out
    assert "manifest" not in edxml_to_json(corpus("edoc_new.edxml"))


def test_both_signature_namespaces_are_kept() -> None:
    dsig = edxml_to_json(corpus("edoc.edxml"))["signature"]["xml"]
    assert dsig.startswith('<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">')
    assert "<!--<KeyValue>" in dsig  # comments inside the block travel with it
    own = edxml_to_json(corpus("edoc_new.edxml"))["signature"]["xml"]
    assert own.startswith(f'<Signature xmlns="{NS}">')


def test_empty_elements_stay_empty() -> None:
    pkg = edxml_to_json(corpus("edoc.edxml"))
    assert pkg["responseFor"] == [{"organId": "", "code": "", "promulgationDate": "",
                                   "documentId": ""}]


def test_a_schema_location_hint_is_neither_followed_nor_kept() -> None:
    raw = corpus("status.edxml").replace(
        b'<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">',
        b'<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016" xmlns:xsi="http://www.w3.org/'
        b'2001/XMLSchema-instance" xsi:schemaLocation="http://www.mic.gov.vn/TBT/QCVN_102_2016'
        b' http://192.0.2.1/edxml.xsd">')
    EdxmlCodec(Settings()).read(raw, Kind.STATUS)  # unit tests fail on any connection
    assert package_differences(raw, json_to_edxml(edxml_to_json(raw))) == []


def test_convert_is_the_identity_within_a_form() -> None:
    raw = corpus("status.edxml")
    assert convert(raw, Form.EDXML, Form.EDXML) is raw
    as_json = convert(raw, Form.EDXML, Form.JSON)
    assert json.loads(as_json)["statusCode"] == "01"
    assert convert(as_json, Form.JSON, Form.JSON) is as_json
    assert package_differences(raw, convert(as_json, Form.JSON, Form.EDXML)) == []


def test_converted_packages_are_accepted_by_the_other_codec() -> None:
    lenient = Settings(validation={"attachment_base64": "warn"})
    for path in corpus_files():
        kind = kind_of_file(path)
        as_json = convert(path.read_bytes(), Form.EDXML, Form.JSON)
        envelope = JsonCodec(lenient).read(as_json, kind)
        back = EdxmlCodec(lenient).read(convert(as_json, Form.JSON, Form.EDXML), kind)
        assert envelope.header == back.header
        assert envelope.recipients == back.recipients


def test_invalid_json_is_not_converted() -> None:
    with pytest.raises(ValidationFailed) as info:
        json_to_edxml({"from": {"organId": "000.00.00.H57"}, "subject": "x"})
    # a missing property is reported at the object that lacks it, naming the property
    assert [e.path for e in info.value.errors] == ["/"] * 5
    assert sorted(e.message for e in info.value.errors) == sorted(
        f"expected the field {name}, found none"
        for name in ("to", "documentId", "code", "promulgationInfo", "documentType"))
    with pytest.raises(ValidationFailed) as info:
        json_to_edxml({**edxml_to_json(corpus("status.edxml")), "description": "a\x01b"})
    assert info.value.errors[0].path == "/description"
    with pytest.raises(ValidationFailed) as info:
        json_to_edxml({**edxml_to_json(corpus("status.edxml")),
                       "signature": {"xml": "<Other/>"}})
    assert info.value.errors[0].path == "/signature/xml"


# ----------------------------------------------------------------- generated packages


@SETTINGS
@given(st.sampled_from(list(Kind)).flatmap(packages))
def test_json_to_edxml_to_json_is_the_identity(pkg: dict[str, Any]) -> None:
    assert edxml_to_json(json_to_edxml(pkg)) == pkg


def _shuffle(element: etree._Element, node: Node, rng: random.Random) -> None:
    """Children of unordered records in a random order (what any producer may send)."""
    content = node.content
    if isinstance(content, Record):
        children = list(element)
        if not content.ordered:
            # any interleaving, but repeated elements keep their order: To[1] stays first
            keys = [rng.random() for _ in children]
            for tag in {c.tag for c in children}:
                places = [i for i, c in enumerate(children) if c.tag == tag]
                for i, key in zip(places, sorted(keys[i] for i in places), strict=True):
                    keys[i] = key
            children = [c for _, c in sorted(zip(keys, children, strict=True),
                                             key=lambda pair: pair[0])]
            element[:] = children
        for child in children:
            sub = content.field(etree.QName(child).localname) if isinstance(child.tag, str) \
                else None
            if sub is not None and etree.QName(child).namespace == NS:
                _shuffle(child, sub, rng)
    elif isinstance(content, ListOf):
        for child in element:
            _shuffle(child, content.item, rng)


def _as_a_producer_might_write_it(raw: bytes, rng: random.Random) -> bytes:
    root = etree.fromstring(raw)
    _shuffle(root, PACKAGE, rng)
    signed = set(root.iter("{*}Signature"))
    for element in list(root.iter(f"{{{NS}}}*"))[:: rng.randint(3, 9)]:
        # inside a Signature block a comment would be content, not a producer's habit
        if element is not root and not signed & {element, *element.iterancestors()}:
            element.addprevious(etree.Comment(" producer note "))
    out = etree.tostring(root, encoding="UTF-8", xml_declaration=rng.random() < 0.5)
    prefix = rng.choice([b"edXML", b"q", b"ns1"])
    return out.replace(b"edXML:", prefix + b":").replace(b"xmlns:edXML=", b"xmlns:" + prefix + b"=")


@SETTINGS
@given(st.sampled_from(list(Kind)).flatmap(packages), st.randoms(use_true_random=False))
def test_edxml_to_json_to_edxml_loses_nothing(pkg: dict[str, Any], rng: random.Random) -> None:
    written = _as_a_producer_might_write_it(json_to_edxml(pkg), rng)
    again = json_to_edxml(edxml_to_json(written))
    assert package_differences(written, again) == []


@SETTINGS
@given(st.sampled_from(list(Kind)).flatmap(packages), st.randoms(use_true_random=False))
def test_generated_packages_pass_the_codec_in_any_order(pkg: dict[str, Any],
                                                       rng: random.Random) -> None:
    pkg.pop("manifest", None)  # a hand-made manifest need not match the attachments
    kind = Kind.STATUS if "statusCode" in pkg else Kind.DOCUMENT
    written = _as_a_producer_might_write_it(json_to_edxml(pkg), rng)
    envelope = EdxmlCodec(Settings()).read(written, kind)
    assert envelope.header == {k: v for k, v in pkg.items() if k != "attachments"}
