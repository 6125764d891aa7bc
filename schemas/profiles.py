"""The tolerant schemas: the XSDs and JSON Schemas with the deviations real producers make let in.

The schema files state the package as QCVN 102:2016 and NĐ 30/2020 describe it. Both
validation profiles check packages against the files with four tolerances applied in
memory, and the deviation checks (schemas/deviations.py) then find each tolerated
deviation and decide what it is worth: a warning under `interop`, an error under
`strict`. So the strict profile refuses exactly what the files refuse, and the interop
profile carries what the tolerances let through.

The tolerances, and only these:
- every maximum length is raised to its ceiling (`ceiling`);
- a trace hop (TraceHeader) may lack its OrganId;
- dates and timestamps are any text of at most 40 characters (the deviation checks read
  them: the standard's form, the forms producers use, or an error);
- the blocks of the header and of the trace list may come in any order (not a schema
  change: the tree is put in the standard's order before it is checked, as record
  children already are, see `edxml_schema.canonicalise`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from lxml import etree

from schemas.edxml_spec import DATE_TYPES, TIMESTAMP_TYPES

XS = "http://www.w3.org/2001/XMLSchema"
# at least this many characters are carried whatever the standard's maximum: a timestamp
# to the millisecond (17 digits), a UUID (36), a test platform's id all fit
CEILING_FLOOR = 64
# and at least twice the maximum: a text a producer did not cut is carried whole, within
# a bound that keeps a field from growing without limit
CEILING_FACTOR = 2
# what a date or timestamp may be before the deviation checks read it: ISO 8601 with
# fractions of a second and a zone offset fits ("2025-03-14T09:30:00.123456+07:00")
DATE_TEXT_MAX = 40
# JSON Schema definitions that do not come from the standard: their limits stay as written
_JSON_OWN_DEFS = frozenset({"signature", "jws"})
_JSON_DATE_DEFS = frozenset({"date", "optionalDate", "timestamp"})


def ceiling(maximum: int) -> int:
    """The most characters the hub carries in a field whose standard maximum is `maximum`."""
    return max(CEILING_FLOOR, CEILING_FACTOR * maximum)


@cache
def standard_max_lengths() -> Mapping[str, int]:
    """The maximum length of each simple type of the schema files, by type name."""
    from schemas.edxml_schema import FAST_XSD

    tree = etree.parse(str(FAST_XSD), etree.XMLParser(no_network=True, resolve_entities=False))
    out: dict[str, int] = {}
    for simple in tree.getroot().iterfind(f"{{{XS}}}simpleType"):
        found = simple.find(f"{{{XS}}}restriction/{{{XS}}}maxLength")
        if found is not None:
            out[simple.get("name", "")] = int(found.get("value", "0"))
    return MappingProxyType(out)


def tolerant_xsd(path: Path) -> etree._ElementTree:
    """The XSD at `path` with the tolerances applied; imports still resolve beside it."""
    tree = etree.parse(str(path), etree.XMLParser(no_network=True, resolve_entities=False))
    root = tree.getroot()
    for limit in root.iter(f"{{{XS}}}maxLength"):
        limit.set("value", str(ceiling(int(limit.get("value", "0")))))
    for simple in root.iterfind(f"{{{XS}}}simpleType"):
        if simple.get("name") in DATE_TYPES | TIMESTAMP_TYPES:
            restriction = simple.find(f"{{{XS}}}restriction")
            assert restriction is not None, simple.get("name")
            for facet in list(restriction):
                restriction.remove(facet)
            etree.SubElement(restriction, f"{{{XS}}}maxLength", value=str(DATE_TEXT_MAX))
    hop = root.find(f"{{{XS}}}complexType[@name='TraceHeaderType']")
    assert hop is not None
    for element in hop.iter(f"{{{XS}}}element"):
        if element.get("name") == "OrganId":
            element.set("minOccurs", "0")
    return tree


def tolerant_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema of schemas/json/ with the same tolerances as the XSDs."""
    out = copy.deepcopy(schema)
    defs = out.get("$defs", {})
    for name in _JSON_DATE_DEFS & defs.keys():
        described = defs[name].get("description", "")
        defs[name] = {"description": described, "type": "string", "maxLength": DATE_TEXT_MAX}
    hop = defs.get("traceHeaderList", {}).get("properties", {}).get("traceHeaders", {})
    if isinstance(hop.get("items"), dict):
        hop["items"].pop("required", None)
    _raise_limits(out)
    return out


def _raise_limits(value: Any) -> None:
    if isinstance(value, dict):
        if isinstance(value.get("maxLength"), int):
            value["maxLength"] = ceiling(value["maxLength"])
        for key, item in value.items():
            if key == "$defs":
                for name, definition in item.items():
                    if name not in _JSON_OWN_DEFS | _JSON_DATE_DEFS:
                        _raise_limits(definition)
            else:
                _raise_limits(item)
    elif isinstance(value, list):
        for item in value:
            _raise_limits(item)
