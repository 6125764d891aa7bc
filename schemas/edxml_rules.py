"""What separates a document package from a status package, checked on the parsed tree.

Both kinds share one XML vocabulary. The fast XSD 1.0 check declares the elements of
either kind as optional; these rules then hold each kind to its own. The authoritative
XSD 1.1 schema says the same with assertions (tests keep the two in step), but it can
only tell the kinds apart by StatusCode; here a package missing its StatusCode is still
recognised as a status package and told what it lacks.
"""

from __future__ import annotations

from lxml import etree

from core.errors import ValidationFailed
from core.model import Kind
from schemas.edxml_spec import (
    NS,
    PACKAGE,
    STATUS_RESPONSE_FOR_REQUIRED,
    Node,
    Record,
)
from schemas.problems import KIND_VI, CodedFieldError, wrong_package_kind
from schemas.xmlparser import element_path, text_value


def check_root(root: etree._Element) -> None:
    """Refuse a document that is not an edXML package at all.

    Raises ValidationFailed (`wrong_namespace` or `wrong_root`).
    """
    qname = etree.QName(root)
    if qname.localname == PACKAGE.tag and qname.namespace != NS:
        found = qname.namespace or "no namespace"
        raise ValidationFailed(
            f"the edXML element is in {found}; expected namespace {NS}",
            code="wrong_namespace",
            errors=[CodedFieldError(
                f"/{qname.localname}",
                f"expected namespace {NS}, found {found}",
                f"cần không gian tên {NS}, nhận được {found}",
                root.sourceline, "wrong_namespace",
            )],
            detail_vi=f"Phần tử edXML không thuộc không gian tên {NS}",
        )
    if qname.localname != PACKAGE.tag or qname.namespace != NS:
        raise ValidationFailed(
            f"the root element is {qname.localname}; an edXML package starts with edXML",
            code="wrong_root",
            errors=[CodedFieldError(
                f"/{qname.localname}",
                f"expected root element edXML in namespace {NS}, found {_named(qname)}",
                f"cần phần tử gốc edXML thuộc {NS}, nhận được {_named_vi(qname)}",
                root.sourceline, "wrong_root",
            )],
            detail_vi="Phần tử gốc phải là edXML",
        )


def _named(qname: etree.QName) -> str:
    return f"{qname.localname} in {qname.namespace}" if qname.namespace else qname.localname


def _named_vi(qname: etree.QName) -> str:
    return f"{qname.localname} (không gian tên {qname.namespace})" if qname.namespace \
        else qname.localname


def _children(element: etree._Element, tag: str) -> list[etree._Element]:
    return [c for c in element if c.tag == f"{{{NS}}}{tag}"]


def _fields(node: Node) -> tuple[Node, ...]:
    return node.content.fields if isinstance(node.content, Record) else ()


def _structural_nodes() -> list[Node]:
    """edXML down to MessageHeader: the records whose children make the JSON top level."""
    out = [PACKAGE]
    i = 0
    while i < len(out):
        out.extend(f for f in _fields(out[i]) if f.key is None)
        i += 1
    return out


def _structural(root: etree._Element) -> list[tuple[etree._Element, Node]]:
    """The structural elements a package has, with their nodes."""
    found = [(root, PACKAGE)]
    i = 0
    while i < len(found):
        element, node = found[i]
        i += 1
        for child_node in _fields(node):
            if child_node.key is None:
                hits = _children(element, child_node.tag)
                if len(hits) == 1:
                    found.append((hits[0], child_node))
    return found


def _kind_only(kind: Kind) -> frozenset[str]:
    """Tags only packages of `kind` may have (on the structural elements)."""
    other = Kind.STATUS if kind is Kind.DOCUMENT else Kind.DOCUMENT
    return frozenset(
        field.tag
        for node in _structural_nodes()
        for field in _fields(node)
        if field.kinds is not None and field.occurs_in(kind) and not field.occurs_in(other)
    )


# per structural node: its children whose occurrence depends on the kind
_KIND_FIELDS: dict[int, tuple[tuple[str, Node], ...]] = {
    id(node): tuple((f"{{{NS}}}{field.tag}", field) for field in _fields(node)
                    if field.kinds is not None)
    for node in _structural_nodes()
}
_DOCUMENT_ONLY = _kind_only(Kind.DOCUMENT)
_STATUS_ONLY = _kind_only(Kind.STATUS)


def detect_kind(root: etree._Element) -> Kind | None:
    """The kind a package's own elements point to, or None when they do not tell."""
    present: set[str] = set()
    for element, _ in _structural(root):
        present.update(etree.QName(c).localname for c in element if isinstance(c.tag, str))
    doc = len(present & _DOCUMENT_ONLY)
    status = len(present & _STATUS_ONLY)
    if doc == status:
        return None
    return Kind.DOCUMENT if doc > status else Kind.STATUS


def check_kind(root: etree._Element, kind: Kind) -> None:
    """Refuse a package of the other kind than the endpoint takes.

    Raises ValidationFailed (`wrong_package_kind`).
    """
    found = detect_kind(root)
    if found is None or found is kind:
        return
    raise wrong_package_kind(found, kind, "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader",
                             root.sourceline)


def kind_rule_errors(root: etree._Element, kind: Kind) -> list[CodedFieldError]:
    """Elements a `kind` package lacks, or has but must not, with their paths."""
    errors: list[CodedFieldError] = []
    for element, node in _structural(root):
        fields = _KIND_FIELDS[id(node)]
        if not fields:
            continue
        counts: dict[str, int] = {}
        for child in element:
            counts[child.tag] = counts.get(child.tag, 0) + 1
        for clark, field in fields:
            count = counts.get(clark, 0)
            span = field.occurs_in(kind)
            if span is None:
                if count:
                    errors.extend(_not_in_kind(hit, field, kind)
                                  for hit in _children(element, field.tag))
                continue
            lo, hi = span
            if count < lo:
                errors.append(_missing(element, field.tag, kind))
            if hi is not None and count > hi:
                extra = _children(element, field.tag)[hi]
                errors.append(CodedFieldError(
                    element_path(extra),
                    f"expected at most {hi} {field.tag} in a {kind.value} package, "
                    f"found {count}",
                    f"gói tin {KIND_VI[kind]} chỉ có tối đa {hi} {field.tag}, "
                    f"nhận được {count}",
                    extra.sourceline, "element_unexpected",
                ))
            if kind is Kind.STATUS and field.tag == "ResponseFor" and count == 1:
                errors.extend(_status_response_for(_children(element, field.tag)[0]))
    return errors


def _missing(parent: etree._Element, tag: str, kind: Kind) -> CodedFieldError:
    return CodedFieldError(
        element_path(parent),
        f"expected element {tag} (required in a {kind.value} package), found none",
        f"thiếu phần tử {tag} (bắt buộc trong gói tin {KIND_VI[kind]})",
        parent.sourceline, "element_missing",
    )


def _not_in_kind(element: etree._Element, field: Node, kind: Kind) -> CodedFieldError:
    return CodedFieldError(
        element_path(element),
        f"unexpected element {field.tag}: it does not belong in a {kind.value} package",
        f"phần tử {field.tag} không thuộc gói tin {KIND_VI[kind]}",
        element.sourceline, "element_unexpected",
    )


def _status_response_for(response_for: etree._Element) -> list[CodedFieldError]:
    errors = []
    for tag in STATUS_RESPONSE_FOR_REQUIRED:
        hits = _children(response_for, tag)
        if not hits:
            errors.append(_missing(response_for, tag, Kind.STATUS))
        elif not text_value(hits[0]):
            errors.append(CodedFieldError(
                element_path(hits[0]),
                f"expected a non-empty {tag} naming the document, found an empty one",
                f"{tag} phải có giá trị (văn bản được phản hồi), nhận được giá trị rỗng",
                hits[0].sourceline, "value_empty",
            ))
    return errors
