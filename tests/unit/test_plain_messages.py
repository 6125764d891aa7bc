"""Errors and warnings a clerk understands: every one says, in plain English and in plain
Vietnamese, what was expected and what was found, at which path (and, in edXML, line).

Run over every case of the hostile catalogue, every deviation under both profiles, and a
generated set of schema violations of both forms (a required element missing, elements out
of order, unexpected and foreign elements, attributes, text where none belongs, over-long
texts, bad codes and dates, wrong types, bad base64, the wrong kind, the wrong namespace):
not one message may carry a schema processor's wording or a Python representation.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from core.errors import FieldError, HubError
from core.model import Form, Kind
from core.settings import Settings
from schemas.codec import Codec
from schemas.edxml_codec import EdxmlCodec
from schemas.edxml_spec import (
    DATE_TYPES,
    NS,
    PACKAGE,
    TIMESTAMP_TYPES,
    ListOf,
    Node,
    Record,
    Verbatim,
)
from schemas.jsonform import JsonCodec
from schemas.mapping import edxml_to_json
from schemas.profiles import ceiling, standard_max_lengths
from tests.deviation_cases import CASES as DEVIATIONS
from tests.deviation_cases import DOC, STATUS
from tests.unit.test_hostile_catalogue import CASES as HOSTILE

# what a schema processor, a parser or Python says, and a clerk should never read
JARGON = ("{http", "xs:", "time(s)", "minOccurs", "maxOccurs", "xsd", "lxml", "<Element",
          "b'", 'b"', "None", "Traceback", "facet", "xmlschema", "jsonschema", "XMLSchema",
          "Xsd", "complexType", "simpleType", "element-only", "(s)", "\\d", "[0-9]", "^(")
# a sentence in Vietnamese has Vietnamese letters
VIETNAMESE = re.compile("[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]",
                        re.IGNORECASE)


@cache
def codec(form: Form, settings: str = "") -> Codec:
    built = Settings(**json.loads(settings)) if settings else Settings()
    return EdxmlCodec(built) if form is Form.EDXML else JsonCodec(built)


@dataclass(frozen=True)
class Told:
    """One sentence pair a user reads, and where it came from."""

    source: str
    message: str
    message_vi: str
    path: str | None = None
    line: int | None = None


def _problems(source: str, form: Form, error: HubError) -> list[Told]:
    told = [Told(f"{source} (detail)", error.detail, error.detail_vi)]
    told.extend(_field(source, form, e) for e in error.errors)
    return told


def _field(source: str, form: Form, error: FieldError) -> Told:
    return Told(source, error.message, error.message_vi, error.path, error.line)


def _read(source: str, form: Form, raw: bytes, kind: Kind, profile: str | None = None,
          settings: str = "") -> list[Told]:
    try:
        envelope = codec(form, settings).read(raw, kind, profile)  # type: ignore[arg-type]
    except HubError as exc:
        return _problems(source, form, exc)
    return [_field(f"{source} (warning)", form, w) for w in envelope.warnings]


def _check(told: Told, form: Form) -> list[str]:
    """What is wrong with one message pair, said for the failure report."""
    faults = []
    for text in (told.message, told.message_vi):
        faults += [f"{told.source}: {jargon!r} in {text!r}" for jargon in JARGON
                   if jargon in text]
    if not told.message_vi or not VIETNAMESE.search(told.message_vi):
        faults.append(f"{told.source}: no Vietnamese sentence beside {told.message!r}")
    if told.path is not None:  # a field error: what was expected, and where
        if "expected" not in told.message:
            faults.append(f"{told.source}: {told.message!r} does not say what was expected")
        if not told.path.startswith("/"):
            faults.append(f"{told.source}: path {told.path!r}")
        if form is Form.EDXML and told.line is None:
            faults.append(f"{told.source}: no line for {told.path}")
    return faults


def _assert_plain(told: list[Told], form: Form) -> None:
    assert told, "nothing was reported"
    faults = [fault for t in told for fault in _check(t, form)]
    faults = list(dict.fromkeys(faults))
    assert not faults, "\n".join(faults[:20])


# ----------------------------------------------------------------- the hostile catalogue


@pytest.mark.parametrize("case", HOSTILE, ids=lambda c: c.id)
def test_every_hostile_case_is_told_plainly(case: Any) -> None:
    settings = json.dumps(case.settings) if case.settings else ""
    _assert_plain(_read(case.id, Form.EDXML, case.raw, case.kind, settings=settings),
                  Form.EDXML)


# ----------------------------------------------------------------- the deviations


@pytest.mark.parametrize("profile", ["interop", "strict"])
@pytest.mark.parametrize("case", DEVIATIONS, ids=lambda c: c.id)
def test_every_deviation_is_told_plainly_under_both_profiles(case: Any, profile: str) -> None:
    _assert_plain(_read(case.id, case.form, case.raw, case.kind, profile), case.form)


# ----------------------------------------------------------------- generated violations


def _spec_elements(root: etree._Element) -> list[tuple[int, Node]]:
    """(position in document order, spec node) of the first element of each spec node
    (the second To, the next Receiver are told as the first is)."""
    everything = list(root.iter())  # held: lxml keeps the same proxy while one lives
    order = {id(el): i for i, el in enumerate(everything)}
    found: list[tuple[int, Node]] = []

    seen: set[int] = set()

    def visit(element: etree._Element, node: Node) -> None:
        if id(node) not in seen:
            seen.add(id(node))
            found.append((order[id(element)], node))
        content = node.content
        if isinstance(content, Verbatim):
            return
        children = content.fields if isinstance(content, Record) else \
            (content.item,) if isinstance(content, ListOf) else ()
        by_tag = {f"{{{NS}}}{n.tag}": n for n in children}
        for child in element:
            if child.tag in by_tag:
                visit(child, by_tag[child.tag])

    visit(root, PACKAGE)
    return found


def _leaf_values(node: Node) -> list[str]:
    type_name = getattr(node.content, "type", "")
    limit = standard_max_lengths().get(type_name)
    values = ["", "hôm qua"]
    if type_name in DATE_TYPES | TIMESTAMP_TYPES:
        values += ["2018/13/45 25:61:00", "2025-03-14T09:30:00Z", "2025-02-30"]
    if limit is not None:
        values += ["x" * (limit + 1), "x" * (ceiling(limit) + 1)]
    return values


def edxml_violations() -> Iterator[tuple[str, bytes, Kind]]:
    for kind, base in ((Kind.DOCUMENT, DOC), (Kind.STATUS, STATUS)):
        root = etree.fromstring(base)
        for position, node in _spec_elements(root):
            def mutated(change: Any, _position: int = position,
                        _root: etree._Element = root) -> bytes:
                tree = copy.deepcopy(_root)
                target = list(tree.iter())[_position]
                change(target)
                return bytes(etree.tostring(tree, encoding="UTF-8", xml_declaration=True))

            where = f"{kind.value} {node.tag}@{position}"
            if position:
                yield f"{where} missing", mutated(lambda t: t.getparent().remove(t)), kind
                yield (f"{where} twice", mutated(
                    lambda t: t.addnext(copy.deepcopy(t))), kind)
            yield (f"{where} with an unknown child",
                   mutated(lambda t: etree.SubElement(t, f"{{{NS}}}Unknown")), kind)
            yield (f"{where} with a foreign child",
                   mutated(lambda t: etree.SubElement(t, "{urn:example:x}Extra")), kind)
            yield f"{where} with an attribute", mutated(lambda t: t.set("lang", "vi")), kind
            if isinstance(node.content, Record | ListOf):
                yield f"{where} with text", mutated(lambda t: setattr(t, "text", "lạc")), kind
                yield (f"{where} in reverse order",
                       mutated(lambda t: t.__setitem__(slice(None), list(t)[::-1])), kind)
            elif not isinstance(node.content, Verbatim):
                for value in _leaf_values(node):
                    yield (f"{where} = {value[:12]!r}",
                           mutated(lambda t, v=value: setattr(t, "text", v)), kind)
    yield "the wrong kind", STATUS, Kind.DOCUMENT
    yield "the other wrong kind", DOC, Kind.STATUS
    yield ("an unknown namespace", DOC.replace(NS.encode(), b"http://example.invalid/edxml"),
           Kind.DOCUMENT)
    yield ("bad base64", re.sub(rb"(<edXML:ContentTransferEncoded[^>]*>)[^<]*",
                                rb"\1UEs%%%", DOC), Kind.DOCUMENT)
    yield "no XML at all", b"Xin chao", Kind.DOCUMENT


def test_the_generated_edxml_violations_are_many() -> None:
    assert len({raw for _, raw, _ in edxml_violations()}) > 800


# the generated violations run under the strict profile: it tells every error the interop
# profile tells, and each deviation as an error with the sentence interop gives its warning


def test_every_generated_edxml_violation_is_told_plainly() -> None:
    told: list[Told] = []
    refused = 0
    for name, raw, kind in edxml_violations():
        found = _read(name, Form.EDXML, raw, kind, "strict")
        refused += any(not t.source.endswith("(warning)") for t in found)
        told.extend(found)
    assert refused > 500
    _assert_plain(told, Form.EDXML)


def _json_paths(value: Any, path: str = "") -> Iterator[str]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_paths(item, f"{path}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _json_paths(item, f"{path}/{i}")


def _replace(pkg: dict[str, Any], path: str, new: Any) -> dict[str, Any]:
    out = copy.deepcopy(pkg)
    *parents, last = path.strip("/").split("/")
    node: Any = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if new is _REMOVE:
        if isinstance(node, list):
            node.pop(int(last))
        else:
            node.pop(last)
    elif isinstance(node, list):
        node[int(last)] = new
    else:
        node[last] = new
    return out


_REMOVE = object()


def json_violations() -> Iterator[tuple[str, bytes, Kind]]:
    for kind, base in ((Kind.DOCUMENT, edxml_to_json(DOC)), (Kind.STATUS, edxml_to_json(STATUS))):
        for path in list(_json_paths(base))[1:]:
            for label, new in (("missing", _REMOVE), ("a number", 5), ("null", None),
                               ("a list", []), ("an object", {"bogus": 1}), ("empty", ""),
                               ("long", "x" * 200_001), ("a bad date", "hôm qua")):
                pkg = _replace(base, path, new)
                yield f"{kind.value} {path} {label}", json.dumps(pkg).encode(), kind
        yield f"{kind.value} with an unknown field", json.dumps({**base, "bogus": 1}).encode(), kind
    yield "not an object", b"[1, 2]", Kind.DOCUMENT
    yield "not JSON", b"{\"to\": [", Kind.DOCUMENT


def test_every_generated_json_violation_is_told_plainly() -> None:
    told: list[Told] = []
    refused = 0
    for name, raw, kind in json_violations():
        found = _read(name, Form.JSON, raw, kind, "strict")
        refused += any(not t.source.endswith("(warning)") for t in found)
        told.extend(found)
    assert refused > 500
    _assert_plain(told, Form.JSON)


def test_what_lienthong_validate_reports_is_told_plainly(tmp_path: Path) -> None:
    """Offline, as the hub: validation, then the signature step's own warnings."""
    from hub.ingest.offline import OfflineChecker

    checker = OfflineChecker(Settings())
    codes: set[object] = set()
    for i, case in enumerate(DEVIATIONS):
        path = tmp_path / f"{i}.{'json' if case.form is Form.JSON else 'edxml'}"
        path.write_bytes(case.raw)
        for profile in ("interop", "strict"):
            checker.profile = profile  # type: ignore[assignment]
            result = checker.check(path)
            told = [_field(case.id, case.form, e) for e in result.report.errors]
            told += [_field(f"{case.id} (warning)", case.form, w) for w in result.warnings]
            codes.update(p.as_dict().get("code") for p in [*result.report.errors,
                                                           *result.warnings])
            _assert_plain(told, case.form)
    assert "signature_placeholder" in codes


def test_the_check_itself_catches_processor_wording() -> None:
    raw = Told("x", "Element '{http://www.mic.gov.vn/TBT/QCVN_102_2016}To': expected at most "
               "any number of time(s)", "không hợp lệ", "/edXML", 1)
    assert len(_check(raw, Form.EDXML)) >= 2
    assert _check(Told("x", "expected a value, found none", "expected a value", "/a", 1),
                  Form.EDXML)
