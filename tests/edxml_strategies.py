"""Hypothesis strategies for packages in the JSON form, generated from the edXML spec."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from hypothesis import strategies as st
from lxml import etree

from core.model import Kind
from schemas.edxml_spec import (
    DSIG_NS,
    NS,
    PACKAGE,
    STATUS_RESPONSE_FOR_REQUIRED,
    Leaf,
    ListOf,
    Node,
    Record,
    Verbatim,
    json_fields,
)
from schemas.mapping import canonical_xml, derived_manifest

# Vietnamese letters, markup characters, whitespace of every kind XML keeps, a non-BMP one
ALPHABET = st.sampled_from(list(
    "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậđèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
    "ĐÂĂ0123456789 ,./-_()<>&\"';:\t\n\r€𝔘"))

_LENGTHS = {"Text10": 10, "Text30": 30, "Text40": 40, "Text50": 50, "Text100": 100,
            "Text200": 200, "Text500": 500, "Text1000": 1000, "Text2000": 2000,
            "Text100000": 100000, "OptionalOrganIdType": 13}
_NON_EMPTY = {"NonEmptyText11": 11, "NonEmptyText100": 100, "NonEmptyText200": 200,
              "NonEmptyText500": 500, "OrganIdType": 13}


def text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """Short text, or text of exactly the longest length the type allows (so generated
    packages reach every length limit, with multi-byte and non-BMP characters in it)."""
    short = st.text(ALPHABET, min_size=min_size, max_size=min(max_size, 24))
    if max_size <= 24:
        return short
    longest = st.builds(lambda fill, tail: fill * (max_size - len(tail)) + tail,
                        ALPHABET, st.text(ALPHABET, max_size=4))
    return short | longest


def dates() -> st.SearchStrategy[str]:
    return st.builds(
        lambda d, day_first: d.strftime("%d/%m/%Y" if day_first else "%Y/%m/%d"),
        st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(2999, 12, 31)),
        st.booleans(),
    )


def timestamps() -> st.SearchStrategy[str]:
    return st.builds(lambda d, t: f"{d} {t.strftime('%H:%M:%S')}", dates(), st.times())


def base64_text() -> st.SearchStrategy[str]:
    def encode(data: bytes, wrapped: bool) -> str:
        if wrapped:
            return base64.encodebytes(data).decode("ascii")
        return base64.b64encode(data).decode("ascii")

    return st.builds(encode, st.binary(max_size=200), st.booleans())


def leaf_value(type_name: str) -> st.SearchStrategy[str]:
    if type_name in _LENGTHS:
        return text(0, _LENGTHS[type_name])
    if type_name in _NON_EMPTY:
        return text(1, _NON_EMPTY[type_name])
    simple: dict[str, st.SearchStrategy[str]] = {
        "DateType": dates(),
        "OptionalDateType": st.one_of(st.just(""), dates()),
        "TimestampType": timestamps(),
        "PriorityType": st.from_regex(r"\A[0-9]\Z"),
        "AmountType": st.from_regex(r"\A[0-9]{0,9}\Z"),
        "DocumentTypeCode": st.from_regex(r"\A[0-9]{1,3}\Z"),
        "StatusCodeType": st.sampled_from(["01", "02", "03", "04", "05", "06", "13", "15", "16"]),
        "BussinessDocTypeType": st.sampled_from(["0", "1", "2", "3"]),
        "Base64Text": base64_text(),
    }
    return simple[type_name]


@st.composite
def signature(draw: st.DrawFn) -> dict[str, str]:
    namespace = draw(st.sampled_from([DSIG_NS, NS]))
    root = etree.Element(f"{{{namespace}}}Signature", nsmap={None: namespace})
    for name in draw(st.lists(st.sampled_from(["SignedInfo", "SignatureValue", "KeyInfo"]),
                              max_size=3)):
        child = etree.SubElement(root, f"{{{namespace}}}{name}")
        child.text = draw(text(0, 20))
        if draw(st.booleans()):
            child.set("Algorithm", draw(text(0, 10)))
    if draw(st.booleans()):
        root.append(etree.Comment(draw(st.text("abc xyz", max_size=10))))
    return {"xml": canonical_xml(root)}


@st.composite
def value(draw: st.DrawFn, node: Node, kind: Kind) -> Any:
    content = node.content
    if isinstance(content, Leaf):
        return draw(leaf_value(content.type))
    if isinstance(content, Verbatim):
        return draw(signature())
    if isinstance(content, ListOf):
        return draw(st.lists(value(content.item, kind), max_size=3))
    assert isinstance(content, Record)
    obj: dict[str, Any] = {}
    for attr in content.attrs:
        if draw(st.booleans()):
            obj[attr.key] = draw(text(0, 10))
    for field in content.fields:
        span = field.occurs_in(kind)
        if span is None or field.key is None:
            continue
        lo, hi = span
        if lo == 0 and not draw(st.booleans()):
            continue
        if field.repeated_in(kind):
            obj[field.key] = draw(st.lists(value(field, kind), min_size=max(lo, 1),
                                           max_size=3))
        else:
            obj[field.key] = draw(value(field, kind))
    return obj


@st.composite
def packages(draw: st.DrawFn, kind: Kind) -> dict[str, Any]:
    """A valid JSON-form package of `kind`, in the canonical JSON form."""
    pkg: dict[str, Any] = {}
    for field in json_fields(kind, PACKAGE):
        assert field.key is not None
        span = field.occurs_in(kind)
        assert span is not None
        if field.key == "manifest":
            continue
        if span[0] == 0 and not draw(st.booleans()):
            continue
        if field.repeated_in(kind):
            pkg[field.key] = draw(st.lists(value(field, kind), min_size=1, max_size=3))
        else:
            pkg[field.key] = draw(value(field, kind))
    if kind is Kind.STATUS:
        for tag in STATUS_RESPONSE_FOR_REQUIRED:
            key = tag[0].lower() + tag[1:]
            if not pkg["responseFor"].get(key):
                pkg["responseFor"][key] = draw(text(1, 13))
    else:
        # attachment ids unique, and a manifest only when it says something more
        for i, att in enumerate(pkg.get("attachments", [])):
            att["contentId"] = f"cid:{i}-{att['contentId']}"[:200]
        if draw(st.booleans()):
            manifest = draw(value(_manifest_node(), kind))
            derived = derived_manifest(pkg.get("attachments"))
            if manifest.get("references"):
                ids = [a["contentId"] for a in pkg.get("attachments", [])]
                manifest["references"] = [
                    {**ref, "contentId": ids[i % len(ids)]} if ids else ref
                    for i, ref in enumerate(manifest["references"])
                ]
            if manifest != derived:
                pkg["manifest"] = manifest
    return pkg


def _manifest_node() -> Node:
    for field in json_fields(Kind.DOCUMENT, PACKAGE):
        if field.key == "manifest":
            return field
    raise LookupError("manifest")
