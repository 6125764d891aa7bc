"""The two edXML validators: lxml with XSD 1.0 decides fast, xmlschema with XSD 1.1 explains.

The hot path puts the children of every record in the fixed order of edxml_spec and checks
the tree against edxml-canonical.xsd as written (libxml2, tens of microseconds). A package
that passes has no deviation the schema could see. One that does not is checked again
against the tolerant schemas (schemas/profiles.py), after the deviation checks
(schemas/deviations.py) have found what the tolerances let through; only when that fails
too does the tolerant edxml.xsd (XML Schema 1.1, in pure Python and far slower) run, to say
what is wrong, where, in two languages.
"""

from __future__ import annotations

import logging
import threading
from functools import cache
from pathlib import Path

import xmlschema
from lxml import etree
from xmlschema.validators.assertions import XsdAssert

from core.errors import FieldError
from core.model import Kind
from core.settings import Profile
from schemas.deviations import length_findings, tree_findings
from schemas.edxml_messages import from_libxml2, translate
from schemas.edxml_rules import kind_rule_errors
from schemas.edxml_spec import NS, PACKAGE, ListOf, Node, Record
from schemas.problems import CodedFieldError, validation_failed
from schemas.profiles import tolerant_xsd

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
    """The XSD 1.1 schema as written; reading it is allowed only under schemas/edxml/."""
    return xmlschema.XMLSchema11(str(AUTHORITATIVE_XSD), allow="sandbox")


def tolerant_fast_schema() -> etree.XMLSchema:
    """The XSD 1.0 schema with the tolerances of schemas/profiles.py, one per thread."""
    schema = getattr(_local, "tolerant", None)
    if schema is None:
        schema = etree.XMLSchema(tolerant_xsd(FAST_XSD))
        _local.tolerant = schema
    return schema


@cache
def tolerant_authoritative_schema() -> xmlschema.XMLSchema11:
    """The XSD 1.1 schema with the tolerances of schemas/profiles.py: what explains."""
    source = etree.tostring(tolerant_xsd(AUTHORITATIVE_XSD), encoding="unicode")
    return xmlschema.XMLSchema11(source, base_url=str(XSD_DIR), allow="sandbox")


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


# records the standard orders whose order producers break, told as deviations
# (schemas/deviations.py) and then put right like the records of free order
_ORDER_TOLERATED = frozenset({"edXMLHeader", "TraceHeaderList"})


def canonicalise(element: etree._Element, node: Node = PACKAGE, *, blocks: bool = False,
                 ) -> None:
    """Put the children of every record under `element` in the spec's order, in place.

    Records of a fixed order are left as they are, but for the header's and the trace
    list's blocks when `blocks` is true. Repeated elements keep their order among
    themselves; unknown elements, comments and processing instructions go last. Elements
    keep their source lines.
    """
    content = node.content
    if isinstance(content, Record):
        ranks, nodes = _order(content)
        children = list(element)
        if not content.ordered or (blocks and node.tag in _ORDER_TOLERATED):
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
                canonicalise(child, sub, blocks=blocks)
    elif isinstance(content, ListOf) and isinstance(content.item.content, Record | ListOf):
        tag = f"{{{NS}}}{content.item.tag}"
        for child in element:
            if child.tag == tag:
                canonicalise(child, content.item, blocks=blocks)


def is_valid_fast(root: etree._Element) -> bool:
    """Whether a canonicalised tree is valid against the XSD 1.0 schema."""
    return bool(fast_schema().validate(root))


def explain(root: etree._Element, kind: Kind) -> list[CodedFieldError]:
    """Every problem the tolerant XSD 1.1 schema and the kind rules find, one per place."""
    errors: list[CodedFieldError] = []
    # an in-memory tree: the package may point nowhere (schemaLocation hints are ignored)
    source = xmlschema.XMLResource(root, allow="none")
    for problem in tolerant_authoritative_schema().iter_errors(source):
        if isinstance(problem.validator, XsdAssert):
            continue  # the kind rules below say the same, and say which element
        errors.append(translate(problem))
    errors.extend(kind_rule_errors(root, kind))
    return _one_per_place(errors)


def _one_per_place(errors: list[CodedFieldError]) -> list[CodedFieldError]:
    seen: set[str] = set()
    unique = []
    for error in errors:
        if error.path not in seen:  # a pattern and an assertion on one value: say it once
            seen.add(error.path)
            unique.append(error)
    return unique


def validate_tree(root: etree._Element, kind: Kind, profile: Profile = "interop",
                  ) -> tuple[list[FieldError], list[FieldError]]:
    """Check a parsed package against the schema and the rules of its kind, under `profile`.

    Returns (warnings, errors): the deviations the profile lets through, and the problems
    of a package whose structure is sound (a date that is no real day, a text past its
    ceiling, a deviation the profile refuses), for the caller to report with its own. May
    reorder record children in place (see `canonicalise`). Raises ValidationFailed naming
    every offending element when the structure is not sound.
    """
    findings = tree_findings(root)
    schema = fast_schema()
    # most producers already write the canonical order: reorder only when it may matter
    valid = schema.validate(root)
    if not valid:
        canonicalise(root)
        valid = schema.validate(root)
    if not valid:
        # past the standard's schema: what the tolerances let through, and then the rest
        findings.extend(length_findings(root))
        canonicalise(root, blocks=True)
        schema = tolerant_fast_schema()
        valid = schema.validate(root)
    warnings, errors = findings.settle(profile)
    if valid:
        kind_errors = kind_rule_errors(root, kind)
        if kind_errors:
            raise validation_failed([*errors, *kind_errors])
        return warnings, errors
    problems: list[CodedFieldError] = []
    # the XSD 1.1 explanation costs some 40 us per element: a huge invalid package must
    # not buy minutes of CPU, so past a size libxml2's own account is given instead
    small = int(_ELEMENT_COUNT(root)) <= EXPLAIN_MAX_ELEMENTS
    if small:
        problems = explain(root, kind)
    if not problems:
        if small:
            logger.warning("XSD 1.1 accepts a package the XSD 1.0 check refuses")
        problems = _one_per_place([from_libxml2(entry) for entry in schema.error_log])
        problems.extend(kind_rule_errors(root, kind))
    # a text past its ceiling and a date that is none are told by the deviation checks,
    # with the standard's own limit: the tolerant schema's account of them is dropped
    told = {e.path for e in errors}
    raise validation_failed([*errors, *(p for p in problems if p.path not in told)])


EXPLAIN_MAX_ELEMENTS = 10_000
_ELEMENT_COUNT = etree.XPath("count(//*)")
