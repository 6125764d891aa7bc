"""The fast validator on the hot path (jsonschema-rs) agrees with the reference (jsonschema).

Agreement alone proves little (two validators that accept everything agree), so every case
also says what the verdict must be: valid packages are accepted by both, and each mutation
is refused by both at the path it broke.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from core.model import Kind
from schemas.jsonform import (
    SCHEMA_FILES,
    inlined_schema,
    load_schema,
    schema_errors,
    schema_registry_resources,
)
from tests.support import document, status

Change = Callable[[dict[str, Any]], Any]
STATUS_FOR = ("x,2026/11/27,1/A", "a", "b")


@cache
def reference_validator(kind: Kind) -> jsonschema.Draft202012Validator:
    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.from_contents(schema)) for uri, schema in schema_registry_resources())
    return jsonschema.Draft202012Validator(load_schema(SCHEMA_FILES[kind]), registry=registry)


def reference_paths(kind: Kind, value: dict[str, Any]) -> list[str]:
    return sorted({"/" + "/".join(str(p) for p in e.absolute_path)
                   for e in reference_validator(kind).iter_errors(value)})


def fast_paths(kind: Kind, value: dict[str, Any]) -> list[str]:
    return sorted({e.path for e in schema_errors(kind, value)})


def base(kind: Kind) -> dict[str, Any]:
    return document() if kind is Kind.DOCUMENT else status(*STATUS_FOR)


def changed(kind: Kind, change: Change) -> dict[str, Any]:
    value = copy.deepcopy(base(kind))
    change(value)
    return value


# packages both validators must accept, some of them right at a limit
VALID: list[tuple[str, Kind, Change]] = [
    ("document", Kind.DOCUMENT, lambda d: None),
    ("status", Kind.STATUS, lambda s: None),
    ("subject of 500", Kind.DOCUMENT, lambda d: d.update(subject="x" * 500)),
    ("organ id of 13", Kind.DOCUMENT, lambda d: d["to"].append({"organId": "0" * 13})),
    ("code number of 11", Kind.DOCUMENT, lambda d: d["code"].update(codeNumber="1" * 11)),
    ("day-first date", Kind.DOCUMENT,
     lambda d: d.update(promulgationInfo={"promulgationDate": "27/11/2026"})),
    ("priority 9", Kind.DOCUMENT, lambda d: d.update(otherInfo={"priority": "9"})),
    ("a replacement", Kind.DOCUMENT,
     lambda d: d.update(traceHeaderList={"bussiness": {"bussinessDocType": "3"}})),
    ("status 16", Kind.STATUS, lambda s: s.update(statusCode="16")),
]

# (name, kind, change, the paths both validators must report)
INVALID: list[tuple[str, Kind, Change, list[str]]] = [
    ("no subject", Kind.DOCUMENT, lambda d: d.pop("subject"), ["/"]),
    ("empty subject", Kind.DOCUMENT, lambda d: d.update(subject=""), ["/subject"]),
    ("subject of 501", Kind.DOCUMENT, lambda d: d.update(subject="x" * 501), ["/subject"]),
    ("no recipient", Kind.DOCUMENT, lambda d: d.update(to=[]), ["/to"]),
    ("organ id of 14", Kind.DOCUMENT, lambda d: d["to"].append({"organId": "0" * 14}),
     ["/to/3/organId"]),
    ("code number of 12", Kind.DOCUMENT, lambda d: d["code"].update(codeNumber="1" * 12),
     ["/code/codeNumber"]),
    ("unknown top-level key", Kind.DOCUMENT, lambda d: d.update(extra=1), ["/"]),
    ("unknown key in from", Kind.DOCUMENT, lambda d: d["from"].update(extra=1), ["/from"]),
    ("ISO date", Kind.DOCUMENT,
     lambda d: d.update(promulgationInfo={"promulgationDate": "2026-11-27"}),
     ["/promulgationInfo/promulgationDate"]),
    ("priority of two digits", Kind.DOCUMENT, lambda d: d.update(otherInfo={"priority": "12"}),
     ["/otherInfo/priority"]),
    ("attachment without content", Kind.DOCUMENT,
     lambda d: d.update(attachments=[{"contentId": "a"}]), ["/attachments/0"]),
    ("BussinessDocType 7", Kind.DOCUMENT,
     lambda d: d.update(traceHeaderList={"bussiness": {"bussinessDocType": "7"}}),
     ["/traceHeaderList/bussiness/bussinessDocType"]),
    ("type as a number", Kind.DOCUMENT,
     lambda d: d.update(documentType={"type": 1, "typeName": "x"}), ["/documentType/type"]),
    ("two faults at once", Kind.DOCUMENT,
     lambda d: d.update(subject="", code={"codeNumber": "1" * 12, "codeNotation": "x"}),
     ["/code/codeNumber", "/subject"]),
    ("status code 07", Kind.STATUS, lambda s: s.update(statusCode="07"), ["/statusCode"]),
    ("status without responseFor", Kind.STATUS, lambda s: s.pop("responseFor"), ["/"]),
    ("timestamp without time", Kind.STATUS, lambda s: s.update(timestamp="2026/11/27"),
     ["/timestamp"]),
]

ALL = [(name, kind, change, []) for name, kind, change in VALID] + INVALID


@pytest.mark.parametrize(("kind", "change"), [(k, c) for _, k, c in VALID],
                         ids=[v[0] for v in VALID])
def test_both_validators_accept_a_valid_package(kind: Kind, change: Change) -> None:
    value = changed(kind, change)
    assert reference_paths(kind, value) == []
    assert fast_paths(kind, value) == []


@pytest.mark.parametrize(("kind", "change", "paths"), [(k, c, p) for _, k, c, p in INVALID],
                         ids=[i[0] for i in INVALID])
def test_both_validators_refuse_a_mutation_at_its_path(kind: Kind, change: Change,
                                                       paths: list[str]) -> None:
    value = changed(kind, change)
    assert reference_paths(kind, value) == paths
    assert fast_paths(kind, value) == paths


@cache
def described_validator(kind: Kind) -> jsonschema.Draft202012Validator:
    from hub.app import create_app

    path = "/api/v1/documents" if kind is Kind.DOCUMENT else "/api/v1/statuses"
    described = create_app().openapi()["paths"][path]["post"]["requestBody"]["content"]
    assert "application/xml" in described
    return jsonschema.Draft202012Validator(described["application/json"]["schema"])


@pytest.mark.parametrize(("kind", "change", "paths"), [(k, c, p) for _, k, c, p in ALL],
                         ids=[a[0] for a in ALL])
def test_the_openapi_schema_says_what_the_validator_says(kind: Kind, change: Change,
                                                         paths: list[str]) -> None:
    value = changed(kind, change)
    described = sorted({"/" + "/".join(str(p) for p in e.absolute_path)
                        for e in described_validator(kind).iter_errors(value)})
    assert described == fast_paths(kind, value) == paths


@pytest.mark.parametrize("kind", list(Kind))
def test_the_inlined_schema_stands_alone_and_judges_alike(kind: Kind) -> None:
    schema = inlined_schema(kind)
    assert "$ref" not in json.dumps(schema)  # every reference resolved in place
    assert "$schema" not in schema and "$id" not in schema
    alone = jsonschema.Draft202012Validator(schema)  # no registry: nothing left to look up
    cases = [(change, paths) for _, k, change, paths in ALL if k is kind]
    assert cases
    for change, paths in cases:
        value = changed(kind, change)
        assert sorted({"/" + "/".join(str(p) for p in e.absolute_path)
                       for e in alone.iter_errors(value)}) == paths
