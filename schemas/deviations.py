"""Deviations from QCVN 102 that real producers make: found in a package of either form, a
warning under the interop profile, an error under the strict one.

Each deviation has a stable code, the path and line of the element (or the JSON path),
and a sentence in English and Vietnamese saying what was expected and what was found.
The tolerant schemas (schemas/profiles.py) let exactly these through; what goes beyond
them (a text past its ceiling, a date that is no real day) is an error in both profiles.
docs/validation.md, "Profiles and deviations", gives each verdict and its reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from core.errors import FieldError
from core.model import Kind
from core.settings import Profile
from schemas.dates import not_a_real_date, read_date
from schemas.edxml_spec import (
    DATE_TYPES,
    DSIG_NS,
    NS,
    PACKAGE,
    TIMESTAMP_TYPES,
    Leaf,
    ListOf,
    Node,
    Record,
    json_fields,
)
from schemas.problems import CodedFieldError
from schemas.profiles import ceiling, standard_max_lengths
from schemas.xmlparser import element_path, text_value

# the deviation codes; the same code is a warning under interop and an error under strict
DEVIATIONS = {
    "value_too_long": "a text longer than the standard's maximum, within its ceiling",
    "trace_hop_incomplete": "a trace hop without an OrganId, or with a placeholder",
    "trace_order": "a TraceHeader after the Bussiness block of the trace list",
    "header_order": "the header's blocks out of the order MessageHeader, TraceHeaderList, "
                    "Signature",
    "organ_id_nonstandard": "an organisation id not of the QĐ 20/2020 form LLL.KK.JJ.Xnn",
    "recipient_repeated": "the same recipient listed twice",
    "date_format": "a date or timestamp in ISO 8601 or with a time where a day is expected",
    # found by the parser (schemas/xmlparser.py), in edXML only
    "xml_junk_before_declaration": "letters or digits before the XML declaration",
    "xml_undeclared_prefix": "the edXML: or xlink: prefix used without a declaration",
}

# QCVN 102:2016 / QĐ 20/2020: LLL.KK.JJ.Xnn, read right to left
STANDARD_ORGAN_ID = re.compile(r"\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}")
ORGAN_ID_MAX = 13
# what relays write when they have no id to give: nothing, a null, a dash, zeros
_PLACEHOLDER = re.compile(r"\s*|(?i:null|none|nil|undefined|n/?a)|[-_./\s]+|[0.]+")


# a recipient group ("@all", "@communes.21"): `@` and 1..12 of [a-z0-9.-], so it fits the
# 13 characters of an OrganId; only a document's `To` may name one (routing/groups.py)
GROUP_ADDRESS = re.compile(r"@[a-z0-9.-]{1,12}")


def is_standard_organ_id(code: str) -> bool:
    """Whether `code` has the QĐ 20/2020 form LLL.KK.JJ.Xnn."""
    return STANDARD_ORGAN_ID.fullmatch(code) is not None


def is_group_address(code: str) -> bool:
    """Whether `code` names a recipient group rather than an organisation."""
    return GROUP_ADDRESS.fullmatch(code) is not None


def is_placeholder(code: str) -> bool:
    """Whether an OrganId holds no id at all (empty, `null`, `-`, `000.00.00.000`)."""
    return _PLACEHOLDER.fullmatch(code) is not None


@dataclass
class Findings:
    """What the deviation checks found: deviations (the profile decides) and errors."""

    deviations: list[CodedFieldError] = field(default_factory=list)
    errors: list[CodedFieldError] = field(default_factory=list)

    def extend(self, other: Findings) -> None:
        self.deviations.extend(other.deviations)
        self.errors.extend(other.errors)

    def settle(self, profile: Profile) -> tuple[list[FieldError], list[FieldError]]:
        """(warnings, errors) under `profile`, one per place: an error at a place hides a
        deviation there, and the first finding at a place is the one told."""
        errors = _one_per_place(self.errors)
        taken = {e.path for e in errors}
        deviations = [d for d in _one_per_place(self.deviations) if d.path not in taken]
        if profile == "strict":
            return [], sorted([*errors, *deviations], key=lambda e: (e.line or 0, e.path))
        return list(deviations), list(errors)


def _one_per_place(items: Iterable[CodedFieldError]) -> list[CodedFieldError]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item.path not in seen:
            seen.add(item.path)
            out.append(item)
    return out


# ------------------------------------------------------------------ the sentences


def too_long(path: str, limit: int, found: int, line: int | None = None) -> CodedFieldError:
    """A text past the standard's maximum; past its ceiling too, the sentence says so."""
    most = ceiling(limit)
    if found > most:
        return CodedFieldError(
            path, f"expected at most {limit} characters, found {found}, more than the "
                  f"{most} the hub carries",
            f"tối đa {limit} ký tự, nhận được {found}, vượt quá {most} ký tự mà trục chấp nhận",
            line, "value_too_long")
    return CodedFieldError(path, f"expected at most {limit} characters, found {found}",
                           f"tối đa {limit} ký tự, nhận được {found}", line, "value_too_long")


def _hop_without_id(path: str, line: int | None) -> CodedFieldError:
    return CodedFieldError(
        path, "expected an OrganId naming the unit this hop passed through, found none",
        "cần OrganId của đơn vị mà gói tin đi qua ở chặng này, không tìm thấy",
        line, "trace_hop_incomplete")


def _hop_placeholder(path: str, code: str, line: int | None) -> CodedFieldError:
    if not code.strip():
        return CodedFieldError(
            path, "expected the code of the unit this hop passed through, found it empty",
            "cần mã định danh của đơn vị ở chặng này, nhận được giá trị rỗng",
            line, "trace_hop_incomplete")
    return CodedFieldError(
        path, f"expected the code of the unit this hop passed through, found the "
              f"placeholder {code!r}",
        f"cần mã định danh của đơn vị ở chặng này, nhận được giá trị giữ chỗ {code!r}",
        line, "trace_hop_incomplete")


def _nonstandard(path: str, code: str, line: int | None) -> CodedFieldError:
    return CodedFieldError(
        path, f"expected an organisation id of the form LLL.KK.JJ.Xnn (QĐ 20/2020), "
              f"found {code!r}",
        f"cần mã định danh dạng LLL.KK.JJ.Xnn (QĐ 20/2020), nhận được {code!r}",
        line, "organ_id_nonstandard")


def _repeated(path: str, code: str, line: int | None) -> CodedFieldError:
    return CodedFieldError(
        path, f"expected each recipient once, found {code} again (it is delivered once)",
        f"mỗi nơi nhận chỉ ghi một lần, {code} bị lặp lại (chỉ gửi một lần)",
        line, "recipient_repeated")


_SHAPE = {False: ("a date written yyyy/MM/dd or dd/MM/yyyy",
                  "ngày viết dạng yyyy/MM/dd hoặc dd/MM/yyyy"),
          True: ("a time written yyyy/MM/dd HH:mm:ss or dd/MM/yyyy HH:mm:ss",
                 "thời điểm viết dạng yyyy/MM/dd HH:mm:ss hoặc dd/MM/yyyy HH:mm:ss")}


def date_finding(path: str, text: str, timestamp: bool, optional: bool,
                 line: int | None = None) -> Findings:
    """A date or timestamp in a form producers use (a deviation) or no date (an error)."""
    found = Findings()
    if not text and optional:
        return found
    reading = read_date(text, timestamp)
    shape, shape_vi = _SHAPE[timestamp]
    if reading.verdict == "producer":
        found.deviations.append(CodedFieldError(
            path, f"expected {shape}, found {text!r} (read as {reading.read_as})",
            f"cần {shape_vi}, nhận được {text!r} (hiểu là {reading.read_as})",
            line, "date_format"))
    elif reading.verdict == "unreal":
        message, message_vi = not_a_real_date(text, timestamp)
        found.errors.append(CodedFieldError(path, message, message_vi, line, "date_invalid"))
    elif reading.verdict == "unknown":
        found.errors.append(CodedFieldError(
            path, f"expected {shape}, found {text!r}", f"cần {shape_vi}, nhận được {text!r}",
            line, "date_invalid"))
    return found


def organ_id_finding(path: str, code: str, line: int | None, *, hop: bool = False
                     ) -> Findings:
    """An OrganId of another form than QĐ 20's (one too long is told by the length check)."""
    found = Findings()
    if hop and is_placeholder(code):
        found.deviations.append(_hop_placeholder(path, code, line))
    elif code and len(code) <= ORGAN_ID_MAX and not is_standard_organ_id(code):
        found.deviations.append(_nonstandard(path, code, line))
    return found


# ------------------------------------------------------------------ edXML


def _q(*names: str) -> str:
    return "/".join(f"{{{NS}}}{name}" for name in names)


_HEADER = _q("edXMLEnvelope", "edXMLHeader")
_TRACE = _q("edXMLEnvelope", "edXMLHeader", "TraceHeaderList")
_HEADER_BLOCKS = ("MessageHeader", "TraceHeaderList", "Signature")
_BLOCK_RANK = {f"{{{ns}}}{name}": rank for rank, name in enumerate(_HEADER_BLOCKS)
               for ns in (NS, DSIG_NS)}
_TO = f"{{{NS}}}To"
_TRACE_HEADER = f"{{{NS}}}TraceHeader"
_BUSINESS = f"{{{NS}}}Bussiness"
_X = {"e": NS}
_MH = "e:edXMLEnvelope/e:edXMLHeader/e:MessageHeader"
_HOPS = "e:edXMLEnvelope/e:edXMLHeader/e:TraceHeaderList/e:TraceHeader"
_BUSINESS_PATH = "e:edXMLEnvelope/e:edXMLHeader/e:TraceHeaderList/e:Bussiness"
# one pass of libxml2 each: every OrganId, every date, every hop without an OrganId
_ORGAN_IDS = etree.XPath(" | ".join((
    f"{_MH}/e:From/e:OrganId", f"{_MH}/e:To/e:OrganId", f"{_MH}/e:ResponseFor/e:OrganId",
    f"{_HOPS}/e:OrganId",
    # OrganIds that do not address the package: carried as information
    f"{_BUSINESS_PATH}/e:BussinessDocumentInfo/e:ReceiverList/e:Receiver/e:OrganId",
    f"{_BUSINESS_PATH}/e:ReplacementInfoList/e:ReplacementInfo/e:OrganIdList/e:OrganId",
)), namespaces=_X)
_DATES = etree.XPath(" | ".join((
    f"{_MH}/e:PromulgationInfo/e:PromulgationDate", f"{_MH}/e:DueDate",
    f"{_MH}/e:ResponseFor/e:PromulgationDate", f"{_MH}/e:Timestamp",
)), namespaces=_X)
_HOPS_WITHOUT_ID = etree.XPath(f"{_HOPS}[not(e:OrganId)]", namespaces=_X)
_RECIPIENTS = etree.XPath(f"{_MH}/e:To", namespaces=_X)
_REQUIRED_DATE = f"{{{NS}}}PromulgationInfo"  # the parent of the one date that must be there
_TIMESTAMP = f"{{{NS}}}Timestamp"


def tree_findings(root: etree._Element) -> Findings:
    """The deviations that cost little to look for, in a parsed package: dates, ids, trace
    hops, the order of the header's and the trace list's blocks, repeated recipients.

    Runs on every package: a path is worked out only for what is found."""
    found = Findings()
    for element in _DATES(root):
        timestamp = element.tag == _TIMESTAMP
        parent = element.getparent()
        optional = not timestamp and (parent is None or parent.tag != _REQUIRED_DATE)
        text = text_value(element)
        if (text or not optional) and read_date(text, timestamp).verdict != "standard":
            found.extend(date_finding(element_path(element), text, timestamp, optional,
                                      element.sourceline))
    for organ in _ORGAN_IDS(root):
        code = text_value(organ)
        if not is_standard_organ_id(code):
            parent = organ.getparent()
            if parent is not None and parent.tag == _TO and is_group_address(code):
                continue  # a group address, expanded by the router
            hop = parent is not None and parent.tag == _TRACE_HEADER
            found.extend(organ_id_finding(element_path(organ), code, organ.sourceline, hop=hop))
    for hop in _HOPS_WITHOUT_ID(root):
        found.deviations.append(_hop_without_id(element_path(hop), hop.sourceline))
    seen: set[str] = set()
    for recipient in _RECIPIENTS(root):
        organ = recipient.find(f"{{{NS}}}OrganId")
        code = text_value(organ) if organ is not None else ""
        if code in seen:
            found.deviations.append(_repeated(element_path(recipient), code,
                                              recipient.sourceline))
        seen.add(code)
    trace = root.find(_TRACE)
    if trace is not None:
        found.extend(_trace_order(trace))
    header = root.find(_HEADER)
    if header is not None:
        found.extend(_header_order(header))
    return found


def _header_order(header: etree._Element) -> Findings:
    found = Findings()
    highest = -1
    for child in header:
        rank = _BLOCK_RANK.get(child.tag)  # type: ignore[call-overload]
        if rank is None:
            continue
        if rank < highest:
            before, name = _HEADER_BLOCKS[highest], _HEADER_BLOCKS[rank]
            found.deviations.append(CodedFieldError(
                element_path(child),
                f"expected MessageHeader, TraceHeaderList, then Signature, found {name} "
                f"after {before}",
                f"cần thứ tự MessageHeader, TraceHeaderList rồi Signature, nhận được {name} "
                f"đứng sau {before}",
                child.sourceline, "header_order"))
            break
        highest = rank
    return found


def _trace_order(trace: etree._Element) -> Findings:
    found = Findings()
    business_seen = False
    for child in trace:
        if child.tag == _BUSINESS:
            business_seen = True
        elif child.tag == _TRACE_HEADER and business_seen:
            found.deviations.append(CodedFieldError(
                element_path(child),
                "expected every TraceHeader before the Bussiness block, found one after it",
                "cần mọi TraceHeader đứng trước khối Bussiness, nhận được một TraceHeader "
                "đứng sau",
                child.sourceline, "trace_order"))
            break
    return found


_leaf_limits: dict[int, dict[str, tuple[Node, int | None]]] = {}


def _children_of(node: Node) -> dict[str, tuple[Node, int | None]]:
    """A record's or list's child nodes by qualified tag, with their standard maximum."""
    found = _leaf_limits.get(id(node))  # spec nodes are module constants
    if found is None:
        content = node.content
        nodes = content.fields if isinstance(content, Record) else \
            (content.item,) if isinstance(content, ListOf) else ()
        limits = standard_max_lengths()
        found = {
            f"{{{NS}}}{n.tag}": (n, limits.get(n.content.type)
                                 if isinstance(n.content, Leaf) else None)
            for n in nodes
        }
        _leaf_limits[id(node)] = found
    return found


def length_findings(root: etree._Element) -> Findings:
    """Texts longer than the standard's maximum: deviations up to the ceiling, errors past
    it. Walks every element, so it runs only when the standard's schema has refused."""
    found = Findings()
    stack: list[tuple[etree._Element, Node]] = [(root, PACKAGE)]
    while stack:
        element, node = stack.pop()
        children = _children_of(node)
        for child in element:
            hit = children.get(child.tag)  # comments have a function for a tag: no match
            if hit is None:
                continue
            child_node, limit = hit
            if isinstance(child_node.content, Record | ListOf):
                stack.append((child, child_node))
            elif limit is not None:
                size = len(text_value(child))
                if size > limit:
                    problem = too_long(element_path(child), limit, size, child.sourceline)
                    if size > ceiling(limit):
                        found.errors.append(problem)
                    else:
                        found.deviations.append(problem)
    return found


# ------------------------------------------------------------------ the JSON form


def json_findings(pkg: dict[str, Any], kind: Kind) -> Findings:
    """The deviations of a JSON-form package; parts of another shape than the JSON Schema
    describes are passed over (the schema check tells of them)."""
    found = Findings()
    # one loop over every object, no recursion: a package may list 500 recipients
    stack: list[tuple[Any, dict[str, _Step], str]] = [(pkg, _plan(PACKAGE, kind), "")]
    while stack:
        obj, steps, path = stack.pop()
        for key, item in obj.items():
            step = steps.get(key)
            if step is None:
                continue  # not a key of the form: the schema check tells of it
            where = f"{path}/{key}"
            items = enumerate(item) if step.repeated and isinstance(item, list) else None
            for index, one in items if items is not None else ((None, item),):
                here = where if index is None else f"{where}/{index}"
                _json_item(found, stack, one, step, kind, here)
    trace = pkg.get("traceHeaderList")
    hops = trace.get("traceHeaders") if isinstance(trace, dict) else None
    for i, hop in enumerate(hops if isinstance(hops, list) else []):
        where = f"/traceHeaderList/traceHeaders/{i}"
        if not isinstance(hop, dict):
            continue
        if "organId" not in hop:
            found.deviations.append(_hop_without_id(where, None))
        elif isinstance(hop["organId"], str) and not is_standard_organ_id(hop["organId"]):
            found.extend(organ_id_finding(f"{where}/organId", hop["organId"], None, hop=True))
    recipients = pkg.get("to") if kind is Kind.DOCUMENT else None
    seen: set[str] = set()
    for i, recipient in enumerate(recipients if isinstance(recipients, list) else []):
        code = recipient.get("organId") if isinstance(recipient, dict) else None
        if not isinstance(code, str):
            continue
        if code in seen:
            found.deviations.append(_repeated(f"/to/{i}", code, None))
        seen.add(code)
    return found


@dataclass(frozen=True)
class _Step:
    """One key of a JSON-form object: where it leads, and what its text must be."""

    key: str
    node: Node
    repeated: bool
    limit: int | None = None
    date: bool = False
    timestamp: bool = False
    optional: bool = False
    organ_id: bool = False
    hop: bool = False


_plans: dict[tuple[int, Kind], dict[str, _Step]] = {}


def _plan(node: Node, kind: Kind) -> dict[str, _Step]:
    """The keys of the JSON object `node` stands for (spec nodes are module constants)."""
    found = _plans.get((id(node), kind))
    if found is None:
        steps = []
        for child in json_fields(kind, node):
            content = child.content
            type_name = content.type if isinstance(content, Leaf) else ""
            steps.append(_Step(
                child.key or "", child, child.repeated_in(kind),
                standard_max_lengths().get(type_name), type_name in DATE_TYPES | TIMESTAMP_TYPES,
                type_name in TIMESTAMP_TYPES, type_name == "OptionalDateType",
                child.tag == "OrganId", node.tag == "TraceHeader"))
        found = _plans[(id(node), kind)] = {step.key: step for step in steps}
    return found


def _json_item(found: Findings, stack: list[tuple[Any, dict[str, _Step], str]], value: Any,
               step: _Step, kind: Kind, path: str) -> None:
    """Check one value of a JSON-form package, or queue the object or list it is."""
    content = step.node.content
    if isinstance(value, str):
        if isinstance(content, Leaf):
            _json_leaf(found, value, step, path)
    elif isinstance(value, dict):
        if isinstance(content, Record):
            stack.append((value, _plan(step.node, kind), path))
    elif isinstance(value, list) and isinstance(content, ListOf):
        item = _Step(content.item.tag, content.item, False,
                     *_leaf_facts(content.item, step.node))
        for i, one in enumerate(value):
            _json_item(found, stack, one, item, kind, f"{path}/{i}")


def _json_leaf(found: Findings, value: str, step: _Step, path: str) -> None:
    if step.date:
        found.extend(date_finding(path, value, step.timestamp, step.optional))
        return
    if step.limit is not None and len(value) > step.limit:
        problem = too_long(path, step.limit, len(value))
        (found.errors if len(value) > ceiling(step.limit) else found.deviations).append(problem)
    # a trace hop's id is told with its hop, below; a recipient may name a group
    if step.organ_id and not step.hop and not is_standard_organ_id(value) and not (
            path.startswith("/to/") and is_group_address(value)):
        found.extend(organ_id_finding(path, value, None))


def _leaf_facts(node: Node, parent: Node) -> tuple[int | None, bool, bool, bool, bool, bool]:
    type_name = node.content.type if isinstance(node.content, Leaf) else ""
    return (standard_max_lengths().get(type_name), type_name in DATE_TYPES | TIMESTAMP_TYPES,
            type_name in TIMESTAMP_TYPES, type_name == "OptionalDateType",
            node.tag == "OrganId", parent.tag == "TraceHeader")
