"""The fast validator on the hot path (jsonschema-rs) agrees with the reference (jsonschema)."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from core.model import Kind
from schemas.jsonform import SCHEMA_FILES, load_schema, schema_errors, schema_registry_resources
from tests.support import document, status


def reference_validator(kind: Kind) -> jsonschema.Draft202012Validator:
    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.from_contents(schema)) for uri, schema in schema_registry_resources())
    return jsonschema.Draft202012Validator(load_schema(SCHEMA_FILES[kind]), registry=registry)


def mutations() -> list[tuple[Kind, dict[str, Any]]]:
    out: list[tuple[Kind, dict[str, Any]]] = [(Kind.DOCUMENT, document()),
                                              (Kind.STATUS, status("x,2026/11/27,1/A", "a", "b"))]
    base = document()
    for change in (
        lambda d: d.pop("subject"),
        lambda d: d.update(subject=""),
        lambda d: d.update(subject="x" * 501),
        lambda d: d.update(to=[]),
        lambda d: d["to"].append({"organId": "0" * 14}),
        lambda d: d["code"].update(codeNumber="123456789012"),
        lambda d: d.update(extra=1),
        lambda d: d["from"].update(extra=1),
        lambda d: d.update(promulgationInfo={"promulgationDate": "2026-11-27"}),
        lambda d: d.update(otherInfo={"priority": "12"}),
        lambda d: d.update(attachments=[{"contentId": "a"}]),
        lambda d: d.update(traceHeaderList={"bussiness": {"bussinessDocType": "7"}}),
        lambda d: d.update(documentType={"type": 1, "typeName": "x"}),
    ):
        d = copy.deepcopy(base)
        change(d)
        out.append((Kind.DOCUMENT, d))
    st = status("x,2026/11/27,1/A", "a", "b")
    for change in (lambda s: s.update(statusCode="07"), lambda s: s.pop("responseFor"),
                   lambda s: s.update(timestamp="2026/11/27")):
        s = copy.deepcopy(st)
        change(s)
        out.append((Kind.STATUS, s))
    return out


@pytest.mark.parametrize(("kind", "value"), mutations())
def test_fast_and_reference_validators_agree(kind: Kind, value: dict[str, Any]) -> None:
    reference = sorted({"/" + "/".join(str(p) for p in e.absolute_path)
                        for e in reference_validator(kind).iter_errors(value)})
    fast = sorted({e.path for e in schema_errors(kind, value)})
    assert fast == reference


@pytest.mark.parametrize(("kind", "value"), mutations())
def test_the_openapi_schema_says_what_the_validator_says(kind: Kind, value: dict[str, Any]
                                                         ) -> None:
    from hub.app import create_app

    path = "/api/v1/documents" if kind is Kind.DOCUMENT else "/api/v1/statuses"
    described = create_app().openapi()["paths"][path]["post"]["requestBody"]["content"]
    schema = described["application/json"]["schema"]
    fast = sorted({e.path for e in schema_errors(kind, value)})
    described_errors = sorted({"/" + "/".join(str(p) for p in e.absolute_path)
                               for e in jsonschema.Draft202012Validator(schema).iter_errors(value)})
    assert described_errors == fast
    assert "application/xml" in described
