"""edXML <-> JSON form: the same package in the other form, losing nothing.

The mapping follows schemas/edxml_spec.py: each element becomes the lowerCamelCase key the
spec gives it, a repeated element a list, a container (ToPlaces, Appendixes, ...) a list
of its items, attributes keys of their element's object. Empty elements stay empty
strings or objects; absent ones stay absent.

Two things are kept in a fixed form rather than as written, so that converting twice
gives the same result: the Signature block is kept as its exclusive XML canonical form
(comments included), and the manifest is left out of the JSON form when it says nothing
the attachments do not (one reference per attachment, same id, name, type and
description, version 1.0); JSON without a manifest gets exactly that one back.
Not kept: comments and processing instructions outside the Signature, namespace
prefixes, whitespace between elements, schema location hints (xsi:schemaLocation), the
order of differently named children of a record (edXML does not give it meaning). The
stored bytes keep all of it.
"""

from __future__ import annotations

import binascii
import json
import re
import secrets
from typing import Any

from lxml import etree

from core.errors import ValidationFailed
from core.model import Form, Kind
from core.settings import Limits
from schemas.edxml_package import parse_package, read_package
from schemas.edxml_spec import (
    ATTACHMENT_BODY,
    NS,
    PACKAGE,
    XLINK_NS,
    Leaf,
    ListOf,
    Node,
    Record,
    Verbatim,
)
from schemas.jsonform import parse_json, schema_errors
from schemas.problems import validation_failed
from schemas.semantics import signature_errors, xml_text_errors
from schemas.xmlparser import ParsedXml, element_path, text_value

MANIFEST_VERSION = "1.0"
_REFERENCE_KEYS = ("contentId", "contentType", "description", "attachmentName")
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"


def kind_of(pkg: dict[str, Any]) -> Kind:
    """The kind of a JSON-form package: a status package has a status code."""
    return Kind.STATUS if "statusCode" in pkg else Kind.DOCUMENT


def derived_manifest(attachments: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The manifest a package gets when it lists its attachments and says nothing more."""
    manifest: dict[str, Any] = {"version": MANIFEST_VERSION}
    if attachments:
        manifest["references"] = [
            {key: att[key] for key in _REFERENCE_KEYS if key in att} for att in attachments
        ]
    return manifest


# ----------------------------------------------------------------------------- edXML -> JSON


def edxml_to_json(raw: bytes, *, limits: Limits | None = None) -> dict[str, Any]:
    """The JSON form of an edXML package (validated against the schema first).

    Raises PayloadTooLarge, HostileInput, MalformedInput or ValidationFailed.
    """
    # what the hub carries converts: a package accepted with deviations has a JSON form
    checked = read_package(raw, limits or Limits())
    return tree_to_json(checked.doc, checked.kind)


def tree_to_json(doc: ParsedXml, kind: Kind, *, with_content: bool = True) -> dict[str, Any]:
    """The JSON form of a parsed, schema-valid package; `with_content` False leaves out
    attachment bodies (what the hub keeps as a message's header)."""
    out: dict[str, Any] = {}
    _record_to_json(doc, doc.root, PACKAGE, kind, out, with_content)
    if out.get("manifest") == derived_manifest(out.get("attachments")):
        del out["manifest"]
    return out


def _record_to_json(doc: ParsedXml, element: etree._Element, node: Node, kind: Kind,
                    out: dict[str, Any], with_content: bool) -> None:
    content = node.content
    assert isinstance(content, Record)
    for attr in content.attrs:
        value = element.get(attr.name)
        if value is not None:
            out[attr.key] = value
    fields = _fields_by_tag(content, kind)
    for child in element:
        found = fields.get(child.tag)  # comments have a function for a tag: no match
        if found is None:  # the schema check ran first: only a caller's own tree gets here
            continue
        field, repeated = found
        if field.key is None:
            _record_to_json(doc, child, field, kind, out, with_content)
        elif field is ATTACHMENT_BODY and not with_content:
            continue
        elif repeated:
            out.setdefault(field.key, []).append(_value(doc, child, field, kind, with_content))
        else:
            out[field.key] = _value(doc, child, field, kind, with_content)


_by_tag: dict[tuple[int, Kind], dict[object, tuple[Node, bool]]] = {}


def _fields_by_tag(record: Record, kind: Kind) -> dict[object, tuple[Node, bool]]:
    """A record's fields by their elements' qualified names, and whether each repeats."""
    found = _by_tag.get((id(record), kind))  # records are module constants
    if found is None:
        found = {}
        for field in record.fields:
            namespaces = field.content.namespaces if isinstance(field.content, Verbatim) \
                else (NS,)
            for namespace in namespaces:
                found[f"{{{namespace}}}{field.tag}"] = (field, field.repeated_in(kind))
        _by_tag[(id(record), kind)] = found
    return found


def _value(doc: ParsedXml, element: etree._Element, node: Node, kind: Kind,
           with_content: bool) -> Any:
    content = node.content
    if isinstance(content, Leaf):
        if node is ATTACHMENT_BODY:
            return doc.text(element)
        return text_value(element)
    if isinstance(content, Record):
        obj: dict[str, Any] = {}
        _record_to_json(doc, element, node, kind, obj, with_content)
        return obj
    if isinstance(content, ListOf):
        tag = f"{{{NS}}}{content.item.tag}"
        return [_value(doc, c, content.item, kind, with_content) for c in element if c.tag == tag]
    return {"xml": canonical_xml(element)}


def canonical_xml(element: etree._Element) -> str:
    """An element as exclusive XML canonical form, comments kept: self-contained, stable."""
    out: bytes = etree.tostring(element, method="c14n", exclusive=True, with_comments=True,
                                with_tail=False)
    return out.decode("utf-8")


# ----------------------------------------------------------------------------- JSON -> edXML


def json_to_edxml(pkg: dict[str, Any], *, limits: Limits | None = None) -> bytes:
    """The edXML package of a JSON-form package (validated against its JSON Schema first).

    Raises ValidationFailed when the JSON is not a valid package.
    """
    if not isinstance(pkg, dict):
        raise ValidationFailed("a package is a JSON object", code="validation_failed")
    kind = kind_of(pkg)
    errors = schema_errors(kind, pkg, tolerant=True)
    if not errors:
        errors = xml_text_errors(pkg) + signature_errors(pkg, limits or Limits())
    if errors:
        raise validation_failed(errors, f"{kind.value} package")
    slots: dict[str, str] = {}
    root = json_to_tree(pkg, kind, slots)
    body: bytes = etree.tostring(root, encoding="UTF-8")
    for slot, xml in slots.items():
        # spliced as text: moving a parsed element into the tree would let lxml rewrite
        # its namespace prefixes, and the block is meant to travel unchanged
        found = re.compile(rb"<[^<>]*\b%s/>" % slot.encode()).search(body)
        if found is not None:
            body = body[: found.start()] + xml.encode("utf-8") + body[found.end() :]
    return _XML_DECLARATION + body + b"\n"


def json_to_tree(pkg: dict[str, Any], kind: Kind, slots: dict[str, str]) -> etree._Element:
    """The element tree of a valid JSON-form package; Signature blocks become slot
    elements named in `slots` (slot name -> XML text) for the caller to splice in."""
    nsmap: dict[str | None, str] = {None: NS}
    if any("href" in r for r in (pkg.get("manifest") or {}).get("references", [])):
        nsmap["xlink"] = XLINK_NS
    root = etree.Element(f"{{{NS}}}{PACKAGE.tag}", nsmap=nsmap)
    if kind is Kind.DOCUMENT and "manifest" not in pkg:
        pkg = {**pkg, "manifest": derived_manifest(pkg.get("attachments"))}
    _fill_record(root, PACKAGE, pkg, kind, slots, 0)
    return root


def _fill_record(element: etree._Element, node: Node, obj: dict[str, Any], kind: Kind,
                 slots: dict[str, str], level: int) -> None:
    content = node.content
    assert isinstance(content, Record)
    for attr in content.attrs:
        if attr.key in obj:
            element.set(attr.name, obj[attr.key])
    for field in content.fields:
        if field.occurs_in(kind) is None:
            continue
        if field.key is None:
            # the prefix the national platform's own packages use below the root
            prefixed: dict[str | None, str] | None = \
                {"edXML": NS} if field.tag == "edXMLEnvelope" else None
            child = _child(element, field.tag, level, prefixed)
            _fill_record(child, field, obj, kind, slots, level + 1)
            continue
        if field.key not in obj:
            continue
        values = obj[field.key] if field.repeated_in(kind) else [obj[field.key]]
        for value in values:
            _fill(element, field, value, kind, slots, level)
    _close(element, level)


def _fill(parent: etree._Element, node: Node, value: Any, kind: Kind,
          slots: dict[str, str], level: int) -> None:
    content = node.content
    if isinstance(content, Verbatim):
        slot = f"lienthong-slot-{secrets.token_hex(8)}"
        slots[slot] = value["xml"]
        _child(parent, slot, level)
        return
    child = _child(parent, node.tag, level)
    if isinstance(content, Leaf):
        child.text = value
    elif isinstance(content, Record):
        _fill_record(child, node, value, kind, slots, level + 1)
    elif isinstance(content, ListOf):
        for item in value:
            _fill(child, content.item, item, kind, slots, level + 1)
        _close(child, level + 1)


def _child(parent: etree._Element, tag: str, level: int,
           nsmap: dict[str | None, str] | None = None) -> etree._Element:
    indent = "\n" + "  " * (level + 1)
    if len(parent):
        parent[-1].tail = indent
    else:
        parent.text = indent
    return etree.SubElement(parent, f"{{{NS}}}{tag}", nsmap=nsmap)


def _close(element: etree._Element, level: int) -> None:
    if len(element):
        element[-1].tail = "\n" + "  " * level


# ----------------------------------------------------------------------------- either way


def convert(raw: bytes, source: Form, target: Form, *, limits: Limits | None = None) -> bytes:
    """The package in `target` form; the very same bytes when the forms are the same.

    Raises MalformedInput, HostileInput, PayloadTooLarge or ValidationFailed when `raw`
    is not a valid package in `source` form.
    """
    if source is target:
        return raw
    limits = limits or Limits()
    if source is Form.EDXML:
        pkg = edxml_to_json(raw, limits=limits)
        return json.dumps(pkg, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    value = parse_json(raw, limits.max_json_depth)
    return json_to_edxml(value, limits=limits)


def element_at(root: etree._Element, json_path: str, kind: Kind) -> etree._Element | None:
    """The element a JSON-form path (`/to/1/organId`) stands for in a parsed package."""
    parts: list[str] = [p for p in json_path.split("/") if p]
    element: etree._Element = root
    node = PACKAGE
    obj_level = True  # at a JSON object (not inside a list)
    while parts:
        part = parts.pop(0)
        if obj_level:
            chain = _chain_to(node, part, kind)
            if chain is None:
                return element
            for step in chain[:-1]:
                found = element.find(f"{{{NS}}}{step.tag}")
                if found is None:
                    return element
                element, node = found, step
            field = chain[-1]
            matches = _matching(element, field)
            if field.repeated_in(kind):
                if not parts or not parts[0].isdigit() or int(parts[0]) >= len(matches):
                    return element
                index = int(parts.pop(0))
                element, node = matches[index], field
            elif matches:
                element, node = matches[0], field
            else:
                return element
            obj_level = not isinstance(node.content, ListOf)
        else:
            assert isinstance(node.content, ListOf)
            item = node.content.item
            items = _matching(element, item)
            if not part.isdigit() or int(part) >= len(items):
                return element
            element, node = items[int(part)], item
            obj_level = True
    return element


def _matching(element: etree._Element, node: Node) -> list[etree._Element]:
    if isinstance(node.content, Verbatim):
        return [c for c in element if isinstance(c.tag, str)
                and etree.QName(c).localname == node.tag]
    return [c for c in element if c.tag == f"{{{NS}}}{node.tag}"]


def _chain_to(node: Node, key: str, kind: Kind) -> list[Node] | None:
    """The nodes from `node` down to the field with JSON `key`, through merged records."""
    if not isinstance(node.content, Record):
        return None
    for field in node.content.fields:
        if field.occurs_in(kind) is None:
            continue
        if field.key == key:
            return [field]
        if field.key is None:
            below = _chain_to(field, key, kind)
            if below is not None:
                return [field, *below]
    return None


# ----------------------------------------------------------------------------- comparison


def package_differences(a: bytes, b: bytes, *, limits: Limits | None = None) -> list[str]:
    """How two edXML packages differ as packages (empty when they carry the same thing).

    Compared: every element and attribute, every text; records' differently named
    children in any order; attachment bodies after base64 decoding; the Signature
    block in canonical form. Not compared: prefixes, comments, whitespace between
    elements. Raises what `parse_xml` raises.
    """
    limits = limits or Limits()
    left, right = parse_package(a, limits), parse_package(b, limits)
    out: list[str] = []
    _compare(left, right, left.root, right.root, out)
    return out


def _compare(dx: ParsedXml, dy: ParsedXml, x: etree._Element, y: etree._Element,
             out: list[str]) -> None:
    path = element_path(x)
    if x.tag != y.tag:
        out.append(f"{path}: element {x.tag} against {y.tag}")
        return
    local = etree.QName(x).localname
    if local == "Signature":
        if canonical_xml(x) != canonical_xml(y):
            out.append(f"{path}: the Signature blocks differ")
        return
    ax, ay = _attributes(x), _attributes(y)
    if ax != ay:
        out.append(f"{path}: attributes {ax} against {ay}")
    xs = [c for c in x if isinstance(c.tag, str)]
    ys = [c for c in y if isinstance(c.tag, str)]
    if not xs and not ys:
        tx = dx.text(x) if x in dx.elided else text_value(x)
        ty = dy.text(y) if y in dy.elided else text_value(y)
        if local == "ContentTransferEncoded":
            tx, ty = _decoded(tx), _decoded(ty)  # type: ignore[assignment]
        if tx != ty:
            out.append(f"{path}: text {_short(tx)} against {_short(ty)}")
        return
    groups_x, groups_y = _groups(xs), _groups(ys)
    for tag in sorted(set(groups_x) | set(groups_y)):
        gx, gy = groups_x.get(tag, []), groups_y.get(tag, [])
        if len(gx) != len(gy):
            out.append(f"{path}: {len(gx)} {etree.QName(tag).localname} against {len(gy)}")
            continue
        for cx, cy in zip(gx, gy, strict=True):
            _compare(dx, dy, cx, cy, out)


_HINTS = {f"{{{XSI_NS}}}schemaLocation", f"{{{XSI_NS}}}noNamespaceSchemaLocation"}


def _attributes(element: etree._Element) -> dict[str, str]:
    """Attributes that carry something: schema location hints do not."""
    return {k: v for k, v in element.attrib.items() if k not in _HINTS}


def _groups(children: list[etree._Element]) -> dict[str, list[etree._Element]]:
    groups: dict[str, list[etree._Element]] = {}
    for child in children:
        groups.setdefault(child.tag, []).append(child)
    return groups


def _decoded(text: str) -> bytes | str:
    try:
        return binascii.a2b_base64("".join(text.split()).encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        return text


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."
