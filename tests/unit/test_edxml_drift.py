"""The spec, the two XSDs, the kind rules and the JSON Schemas cannot drift apart.

- every element either XSD declares is in the spec (same name, order, occurrence, type)
  and maps to a JSON property with the same constraints, and back;
- the XSD 1.0 and XSD 1.1 simple types have the same facets;
- the Python kind rules and date checks refuse what the XSD 1.1 assertions refuse;
- every corpus package in the JSON form is valid for the reference `jsonschema` library
  and for jsonschema-rs, and so is every generated package.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import jsonschema
import jsonschema_rs
import pytest
import xmlschema
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree
from referencing import Registry, Resource

from core.errors import ValidationFailed
from core.model import Kind
from core.settings import Limits, Settings
from schemas.edxml_codec import EdxmlCodec
from schemas.edxml_package import parse_package
from schemas.edxml_rules import kind_rule_errors
from schemas.edxml_schema import AUTHORITATIVE_XSD, FAST_XSD, canonicalise, is_valid_fast
from schemas.edxml_spec import (
    MESSAGE_HEADER,
    NS,
    PACKAGE,
    RESPONSE_FOR,
    STATUS_RESPONSE_FOR_REQUIRED,
    Leaf,
    ListOf,
    Node,
    Record,
    Verbatim,
)
from schemas.jsonform import JSON_DIR, SCHEMA_FILES, load_schema, schema_registry_resources
from schemas.mapping import edxml_to_json, tree_to_json
from schemas.semantics import date_errors, parse_date, parse_timestamp
from tests.edxml_strategies import packages
from tests.edxml_support import corpus, corpus_params, kind_of_file, strict_corpus_params
from tests.unit.test_hostile_catalogue import CASES

# counts bounded by settings.limits (checked in code, with the configured value)
SETTINGS_BOUNDED = {"maxItems"}


@cache
def xsd11() -> xmlschema.XMLSchema11:
    return xmlschema.XMLSchema11(str(AUTHORITATIVE_XSD))


@cache
def xsd10() -> xmlschema.XMLSchema10:
    return xmlschema.XMLSchema10(str(FAST_XSD))


# ----------------------------------------------------------------- spec <-> both XSDs


def _compare_xsd(element: Any, node: Node, version: str, seen: list[str]) -> None:
    seen.append(node.tag)
    xtype = element.type
    content = node.content
    if isinstance(content, Leaf):
        assert xtype.is_simple(), node.tag
        assert xtype.local_name == content.type, node.tag
        return
    if isinstance(content, Verbatim):
        return
    group = xtype.content
    if isinstance(content, ListOf):
        [particle] = list(group)
        assert group.model == "sequence", node.tag
        assert particle.local_name == content.item.tag, node.tag
        assert (particle.min_occurs, particle.max_occurs) == content.item.schema_occurs
        _compare_xsd(particle, content.item, version, seen)
        return
    expected = "sequence" if content.ordered or version == "1.0" else "all"
    assert group.model == expected, node.tag
    assert set(xtype.attributes) == {a.name for a in content.attrs}, node.tag
    particles = list(group)
    assert [_name(p) for p in particles] == [f.tag for f in content.fields], node.tag
    for particle, field in zip(particles, content.fields, strict=True):
        if isinstance(field.content, Verbatim):
            # the choice of an edXML Signature and an xmldsig one
            assert particle.model == "choice" and particle.min_occurs == 0
            assert {p.name for p in particle} == {f"{{{ns}}}Signature"
                                                  for ns in field.content.namespaces}
            continue
        assert (particle.min_occurs, particle.max_occurs) == field.schema_occurs, field.tag
        _compare_xsd(particle, field, version, seen)


def _name(particle: Any) -> str:
    if getattr(particle, "model", None) == "choice":
        return next(iter(particle)).local_name  # type: ignore[no-any-return]
    return particle.local_name  # type: ignore[no-any-return]


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_each_xsd_declares_exactly_the_spec(version: str) -> None:
    schema = xsd10() if version == "1.0" else xsd11()
    assert list(schema.elements) == ["edXML"]
    seen: list[str] = []
    _compare_xsd(schema.elements["edXML"], PACKAGE, version, seen)
    assert len(seen) > 90


def test_the_two_xsds_have_the_same_simple_types() -> None:
    for name, old in xsd10().types.items():
        if not old.is_simple():
            continue
        new = xsd11().types[name]
        for facet in ("max_length", "min_length", "enumeration"):
            assert getattr(old, facet) == getattr(new, facet), (name, facet)
        assert (old.patterns.regexps if old.patterns else None) == \
            (new.patterns.regexps if new.patterns else None), name
    assert {n for n, t in xsd10().types.items() if t.is_simple()} == \
        {n for n, t in xsd11().types.items() if t.is_simple()}


def test_the_authoritative_schema_is_xsd_11() -> None:
    root = etree.parse(str(AUTHORITATIVE_XSD)).getroot()
    assert root.get("{http://www.w3.org/2007/XMLSchema-versioning}minVersion") == "1.1"
    assert root.findall(".//{http://www.w3.org/2001/XMLSchema}assert")
    assert xsd11().types["MessageHeaderType"].content.model == "all"
    assert xsd11().types["MessageHeaderType"].content[1].max_occurs is None  # To, in xs:all


# ----------------------------------------------------------------- spec <-> JSON Schemas


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Follow $ref (to common.schema.json or within a file) and merge allOf."""
    while "$ref" in schema:
        target, _, pointer = schema["$ref"].partition("#")
        if target:
            doc = _absolute(load_schema(target), target)
        node: Any = doc
        for part in pointer.strip("/").split("/"):
            node = node[part]
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**node, **rest}
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            resolved, _ = _resolve(part, doc)
            merged.update(resolved)
        own = {k: v for k, v in schema.items() if k != "allOf"}
        props = {**merged.get("properties", {}), **own.get("properties", {})}
        schema = {**merged, **own, "properties": props}
    return schema, doc


def _absolute(value: Any, target: str) -> Any:
    """A schema file with its local references made to name the file."""
    if isinstance(value, dict):
        return {k: (target + v if k == "$ref" and v.startswith("#") else _absolute(v, target))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_absolute(v, target) for v in value]
    return value


def _json_keys(node: Node, kind: Kind) -> dict[str, Node]:
    out: dict[str, Node] = {}
    assert isinstance(node.content, Record)
    for field in node.content.fields:
        if field.occurs_in(kind) is None:
            continue
        if field.key is None:
            out.update(_json_keys(field, kind))
        else:
            out[field.key] = field
    return out


def _required(node: Node, kind: Kind) -> set[str]:
    out = set()
    assert isinstance(node.content, Record)
    for field in node.content.fields:
        span = field.occurs_in(kind)
        if span is None:
            continue
        if field.key is None:
            out |= _required(field, kind)
        elif span[0] >= 1:
            out.add(field.key)
    return out


def _compare_leaf(schema: dict[str, Any], type_name: str, where: str,
                  non_empty: bool = False) -> None:
    xtype = xsd11().types[type_name]
    assert schema.get("type", "string") == "string", where
    assert schema.get("maxLength") == xtype.max_length, where
    assert schema.get("minLength") == (1 if non_empty else xtype.min_length), where
    if xtype.enumeration:
        assert schema["enum"] == list(xtype.enumeration), where
    if xtype.patterns:
        [regexp] = xtype.patterns.regexps
        assert schema["pattern"] in (f"^{regexp}$", f"^({regexp})$"), where
    else:
        assert "pattern" not in schema, where


def _compare_json(schema: dict[str, Any], doc: dict[str, Any], node: Node, kind: Kind,
                  where: str, repeated: bool) -> None:
    schema, doc = _resolve(schema, doc)
    if repeated:
        assert schema["type"] == "array" and schema.get("minItems") == 1, where
        assert set(schema) - {"type", "minItems", "items", "description"} <= SETTINGS_BOUNDED
        _compare_json(schema["items"], doc, node, kind, where + "[]", repeated=False)
        return
    content = node.content
    if isinstance(content, Leaf):
        _compare_leaf(schema, content.type, where)
        return
    if isinstance(content, Verbatim):
        assert schema["type"] == "object" and schema["required"] == ["xml"], where
        return
    if isinstance(content, ListOf):
        assert schema["type"] == "array" and "minItems" not in schema, where
        _compare_json(schema["items"], doc, content.item, kind, where + "[]", repeated=False)
        return
    assert isinstance(content, Record)
    assert schema["type"] == "object" and schema["additionalProperties"] is False, where
    keys = _json_keys(node, kind)
    attrs = {a.key for a in content.attrs}
    # the JSON form's own signature (a JWS) has no edXML counterpart
    json_only = {"jws"} if node is PACKAGE else set()
    assert set(schema["properties"]) == set(keys) | attrs | json_only, where
    # the JSON form may leave out a manifest that only repeats the attachments
    required = _required(node, kind) - {"manifest"}
    strict_response_for = node is RESPONSE_FOR and kind is Kind.STATUS
    if strict_response_for:
        required |= {t[0].lower() + t[1:] for t in STATUS_RESPONSE_FOR_REQUIRED}
    assert set(schema.get("required", [])) == required, where
    for key in attrs:
        assert _resolve(schema["properties"][key], doc)[0]["type"] == "string"
    for key, field in keys.items():
        prop = schema["properties"][key]
        if strict_response_for and key in ("organId", "documentId"):
            resolved, _ = _resolve(prop, doc)
            assert resolved["minLength"] == 1, where
            continue
        _compare_json(prop, doc, field, kind, f"{where}/{key}", field.repeated_in(kind))


@pytest.mark.parametrize("kind", list(Kind))
def test_the_json_schema_says_what_the_xsd_says(kind: Kind) -> None:
    doc = load_schema(SCHEMA_FILES[kind])
    _compare_json(doc, doc, PACKAGE, kind, "", repeated=False)


def test_every_json_schema_file_is_used() -> None:
    assert {p.name for p in JSON_DIR.glob("*.schema.json")} == {
        "common.schema.json", *SCHEMA_FILES.values()}


@cache
def reference_validators() -> dict[Kind, jsonschema.Draft202012Validator]:
    registry: Registry = Registry().with_resources(
        (uri, Resource.from_contents(schema)) for uri, schema in schema_registry_resources())
    return {kind: jsonschema.Draft202012Validator(load_schema(name), registry=registry)
            for kind, name in SCHEMA_FILES.items()}


@cache
def rust_validators() -> dict[Kind, Any]:
    registry = jsonschema_rs.Registry(schema_registry_resources())
    return {kind: jsonschema_rs.Draft202012Validator(load_schema(name), registry=registry,
                                                     offline=True)
            for kind, name in SCHEMA_FILES.items()}


def _both_accept(pkg: dict[str, Any], kind: Kind) -> None:
    errors = [e.message for e in reference_validators()[kind].iter_errors(pkg)]
    assert errors == []
    assert [e.message for e in rust_validators()[kind].iter_errors(pkg)] == []


@pytest.mark.parametrize("path", corpus_params())
def test_corpus_json_is_valid_for_both_json_schema_libraries(path: Any) -> None:
    _both_accept(edxml_to_json(path.read_bytes()), kind_of_file(path))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(Kind)).flatmap(lambda k: st.tuples(st.just(k), packages(k))))
def test_generated_json_is_valid_for_both_json_schema_libraries(
        generated: tuple[Kind, dict[str, Any]]) -> None:
    kind, pkg = generated
    _both_accept(pkg, kind)


def _paths(errors: Any, attribute: str) -> list[str]:
    return sorted({"/" + "/".join(str(p) for p in getattr(e, attribute)) for e in errors})


def test_both_json_schema_libraries_refuse_the_same_things() -> None:
    base = edxml_to_json(corpus("edoc_update.edxml"))
    for key, bad, path in [("subject", "", "/subject"), ("subject", "x" * 501, "/subject"),
                           ("to", [], "/to"),
                           ("documentType", {"type": "x", "typeName": "y"}, "/documentType/type"),
                           ("responseFor", [], "/responseFor"),
                           ("manifest", {"references": [{}]}, "/manifest/references/0"),
                           ("signature", {"xml": ""}, "/signature/xml"),
                           ("dueDate", "2018-01-01", "/dueDate")]:
        pkg = {**copy.deepcopy(base), key: bad}
        reference = reference_validators()[Kind.DOCUMENT].iter_errors(pkg)
        assert _paths(reference, "absolute_path") == [path], key
        fast = rust_validators()[Kind.DOCUMENT].iter_errors(pkg)
        assert _paths(fast, "instance_path") == [path], key


# ----------------------------------------------------------------- kind rules <-> assertions


def _xsd11_valid(root: etree._Element) -> bool:
    return bool(xsd11().is_valid(xmlschema.XMLResource(root)))


def _header(root: etree._Element) -> etree._Element:
    found = root.find(f"{{{NS}}}edXMLEnvelope/{{{NS}}}edXMLHeader/{{{NS}}}MessageHeader")
    assert found is not None
    return found


def _sample(tag: str) -> etree._Element:
    """A valid element of that MessageHeader name, from a corpus package that has one."""
    for name in ("edoc.edxml", "edoc_revocation.edxml", "status.edxml"):
        root = parse_package(corpus(name), _limits()).root
        found = _header(root).find(f"{{{NS}}}{tag}")
        if found is not None:
            return copy.deepcopy(found)
    raise LookupError(tag)


def _limits() -> Limits:
    return Limits()


def _mutations() -> list[tuple[str, Kind, bytes]]:
    out = []
    for kind, name in ((Kind.DOCUMENT, "edoc_revocation.edxml"), (Kind.STATUS, "status.edxml")):
        for field in MESSAGE_HEADER.content.fields:  # type: ignore[union-attr]
            span = field.occurs_in(kind)
            root = parse_package(corpus(name), _limits()).root
            header = _header(root)
            hits = header.findall(f"{{{NS}}}{field.tag}")
            if span is None:
                header.append(_sample(field.tag))
                out.append((f"{kind.value} with {field.tag}", kind, etree.tostring(root)))
            elif span[0] >= 1:
                for hit in hits:
                    header.remove(hit)
                out.append((f"{kind.value} without {field.tag}", kind, etree.tostring(root)))
            if span is not None and span[1] == 1 and hits:
                root = parse_package(corpus(name), _limits()).root
                _header(root).append(_sample(field.tag))
                out.append((f"{kind.value} with two {field.tag}", kind, etree.tostring(root)))
    status = corpus("status.edxml").decode()
    out.append(("status naming no organisation", Kind.STATUS, status.replace(
        "<edXML:OrganId>000.00.00.G22</edXML:OrganId>", "<edXML:OrganId/>").encode()))
    return out


@pytest.mark.parametrize(("name", "kind", "raw"), _mutations(), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_kind_rules_and_xsd_11_assertions_agree(name: str, kind: Kind, raw: bytes) -> None:
    root = parse_package(raw, _limits()).root
    python_says_invalid = bool(kind_rule_errors(root, kind)) or not _fast_valid(root)
    assert python_says_invalid, name
    assert not _xsd11_valid(parse_package(raw, _limits()).root), name


@pytest.mark.parametrize("path", strict_corpus_params())
def test_both_validators_accept_the_corpus(path: Any) -> None:
    root = parse_package(path.read_bytes(), _limits()).root
    assert _xsd11_valid(root)  # as written, any order
    assert _fast_valid(root) and not kind_rule_errors(root, kind_of_file(path))


def _fast_valid(root: etree._Element) -> bool:
    tree = copy.deepcopy(root)
    canonicalise(tree)
    return is_valid_fast(tree)


SCHEMA_CODES = {"element_missing", "element_unexpected", "text_unexpected",
                "attribute_unexpected", "value_too_long", "value_empty", "value_invalid",
                "date_invalid"}


@pytest.mark.parametrize("case", [c for c in CASES if c.code in SCHEMA_CODES],
                         ids=lambda c: c.id)
def test_fast_and_authoritative_verdicts_agree_on_the_catalogue(case: Any) -> None:
    root = parse_package(case.raw, _limits()).root
    kind = Kind.STATUS if root.find(f".//{{{NS}}}StatusCode") is not None else Kind.DOCUMENT
    fast_ok = _fast_valid(root) and not kind_rule_errors(root, kind)
    if fast_ok:
        doc = parse_package(case.raw, _limits())
        fast_ok = not date_errors(tree_to_json(doc, kind, with_content=False), kind)
    assert not fast_ok
    assert not _xsd11_valid(parse_package(case.raw, _limits()).root)


# ----------------------------------------------------------------- dates


DATE_PARTS = st.tuples(st.integers(0, 2999), st.integers(0, 13), st.integers(0, 32))


@settings(max_examples=300, deadline=None)
@given(DATE_PARTS, st.booleans(), st.tuples(st.integers(0, 25), st.integers(0, 61),
                                            st.integers(0, 61)))
# the boundaries random draws seldom reach: leap days by the four rules, the 31st of a
# 30-day month, the end of a day and a leap second
@example((2024, 2, 29), False, (0, 0, 0))
@example((2023, 2, 29), True, (23, 59, 59))
@example((1900, 2, 29), False, (24, 0, 0))
@example((2000, 2, 29), True, (23, 59, 60))
@example((2026, 4, 31), False, (12, 0, 0))
@example((0, 1, 1), False, (0, 0, 0))
def test_python_and_xsd_11_agree_on_real_dates(parts: tuple[int, int, int], day_first: bool,
                                              clock: tuple[int, int, int]) -> None:
    year, month, day = parts
    text = f"{day:02d}/{month:02d}/{year:04d}" if day_first else \
        f"{year:04d}/{month:02d}/{day:02d}"
    assert xsd11().types["DateType"].is_valid(text) == (parse_date(text) is not None), text
    stamp = f"{text} {clock[0]:02d}:{clock[1]:02d}:{clock[2]:02d}"
    assert xsd11().types["TimestampType"].is_valid(stamp) == \
        (parse_timestamp(stamp) is not None), stamp


def test_a_date_error_reads_the_same_from_either_validator() -> None:
    """Alone, a non-existent day is found by the Python check after the fast XSD 1.0 pass;
    beside a schema error, by the XSD 1.1 assertion. The client sees the same thing."""
    codec = EdxmlCodec(Settings())
    raw = corpus("status.edxml").replace(b"2018/09/28 17:25:11", b"2018/02/29 17:25:11")
    found = []
    for extra in (b"", b"<edXML:Foo/>"):
        with pytest.raises(ValidationFailed) as info:
            codec.read(raw.replace(b"<edXML:Description>", extra + b"<edXML:Description>"),
                       Kind.STATUS)
        [date] = [e for e in info.value.errors if e.path.endswith("/Timestamp")]
        found.append((date.path, date.line, date.as_dict()["code"], date.message,
                      date.message_vi))
    assert found[0] == found[1]
    assert found[0][:3] == (
        "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/Timestamp", 30, "date_invalid")
