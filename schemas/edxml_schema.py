"""The two edXML validators: lxml with XSD 1.0 decides fast, xmlschema with XSD 1.1 explains.

The hot path puts the children of every record in the fixed order of edxml_spec, checks
the tree against edxml-canonical.xsd (libxml2, tens of microseconds) and applies the kind
rules. Only when that fails does the authoritative edxml.xsd (XML Schema 1.1, in pure
Python and far slower) run, to say what is wrong, where, in two languages.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import cache
from pathlib import Path

import xmlschema
from lxml import etree
from xmlschema.validators.assertions import XsdAssert

from core.model import Kind
from schemas.edxml_messages import translate
from schemas.edxml_rules import kind_rule_errors
from schemas.edxml_spec import NS, PACKAGE, ListOf, Node, Record
from schemas.problems import CodedFieldError, validation_failed

logger = logging.getLogger(__name__)

XSD_DIR = Path(__file__).resolve().parent / "edxml"
FAST_XSD = XSD_DIR / "edxml-canonical.xsd"
AUTHORITATIVE_XSD = XSD_DIR / "edxml.xsd"

_local = threading.local()


def fast_schema() -> etree.XMLSchema:
    """The compiled XSD 1.0 schema, one per thread (libxml2 validators keep state)."""
    schema = getattr(_local, "schema", None)
    if schema is None:
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        schema = etree.XMLSchema(etree.parse(str(FAST_XSD), parser))
        _local.schema = schema
    return schema


@cache
def authoritative_schema() -> xmlschema.XMLSchema11:
    """The XSD 1.1 schema; reading it is allowed only under schemas/edxml/."""
    return xmlschema.XMLSchema11(str(AUTHORITATIVE_XSD), allow="sandbox")


_orders: dict[int, tuple[dict[str, int], dict[str, Node]]] = {}


def _order(record: Record) -> tuple[dict[str, int], dict[str, Node]]:
    """Rank of each child tag, and the child nodes worth descending into (not leaves)."""
    # keyed by identity: records are module constants, and hashing one walks its subtree
    found = _orders.get(id(record))
    if found is None:
        ranks = {f"{{{NS}}}{f.tag}": i for i, f in enumerate(record.fields)}
        nodes = {f"{{{NS}}}{f.tag}": f for f in record.fields
                 if isinstance(f.content, Record | ListOf)}
        found = _orders[id(record)] = (ranks, nodes)
    return found


def canonicalise(element: etree._Element, node: Node = PACKAGE) -> None:
    """Put the children of every record under `element` in the spec's order, in place.

    Repeated elements keep their order among themselves; unknown elements, comments and
    processing instructions go last. Elements keep their source lines.
    """
    content = node.content
    if isinstance(content, Record):
        ranks, nodes = _order(content)
        children = list(element)
        if not content.ordered:
            last = len(ranks)
            keys = [ranks.get(c.tag, last) if isinstance(c.tag, str) else last
                    for c in children]
            if any(a > b for a, b in zip(keys, keys[1:], strict=False)):
                order = sorted(range(len(children)), key=keys.__getitem__)
                children = [children[i] for i in order]
                element[:] = children
        for child in children:
            sub = nodes.get(child.tag) if isinstance(child.tag, str) else None
            if sub is not None:
                canonicalise(child, sub)
    elif isinstance(content, ListOf) and isinstance(content.item.content, Record | ListOf):
        tag = f"{{{NS}}}{content.item.tag}"
        for child in element:
            if child.tag == tag:
                canonicalise(child, content.item)


def is_valid_fast(root: etree._Element) -> bool:
    """Whether a canonicalised tree is valid against the XSD 1.0 schema."""
    return bool(fast_schema().validate(root))


def explain(root: etree._Element, kind: Kind) -> list[CodedFieldError]:
    """Every problem the XSD 1.1 schema and the kind rules find, one per place."""
    errors: list[CodedFieldError] = []
    # an in-memory tree: the package may point nowhere (schemaLocation hints are ignored)
    source = xmlschema.XMLResource(root, allow="none")
    for problem in authoritative_schema().iter_errors(source):
        if isinstance(problem.validator, XsdAssert):
            continue  # the kind rules below say the same, and say which element
        errors.append(translate(problem))
    errors.extend(kind_rule_errors(root, kind))
    seen: set[str] = set()
    unique = []
    for error in errors:
        if error.path not in seen:  # a pattern and an assertion on one value: say it once
            seen.add(error.path)
            unique.append(error)
    return unique


def validate_tree(root: etree._Element, kind: Kind) -> None:
    """Check a parsed package against the schema and the rules of its kind.

    May reorder record children in place (see `canonicalise`). Raises ValidationFailed
    naming every offending element.
    """
    schema = fast_schema()
    # most producers already write the canonical order: reorder only when it may matter
    valid = schema.validate(root)
    if not valid:
        canonicalise(root)
        valid = schema.validate(root)
    if valid and not kind_rule_errors(root, kind):
        return
    errors: list[CodedFieldError] = []
    # the XSD 1.1 explanation costs some 40 us per element: a huge invalid package must
    # not buy minutes of CPU, so past a size libxml2's own account is given instead
    small = int(_ELEMENT_COUNT(root)) <= EXPLAIN_MAX_ELEMENTS
    if small:
        errors = explain(root, kind)
    if not errors:
        if small and not valid:
            logger.warning("XSD 1.1 accepts a package the XSD 1.0 check refuses")
        errors = [_from_libxml2(entry) for entry in schema.error_log]
        errors.extend(kind_rule_errors(root, kind))
    raise validation_failed(errors)


EXPLAIN_MAX_ELEMENTS = 10_000
_ELEMENT_COUNT = etree.XPath("count(//*)")
_PREFIX = re.compile(r"(?<=/)[A-Za-z_][\w.\-]*:")


def _from_libxml2(entry: etree._LogEntry) -> CodedFieldError:
    """A libxml2 validation message, told with the hub's paths and names."""
    path = _PREFIX.sub("", entry.path or "/")
    if path.startswith("/*"):
        path = "/edXML" + path[2:]
    message = re.sub(r"\{[^}]*\}", "", entry.message)
    return CodedFieldError(path, message, f"không đúng lược đồ: {message}", entry.line,
                           "schema_invalid")
