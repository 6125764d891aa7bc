"""The JSON form: parse with limits, validate against the JSON Schemas, build the Envelope."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from core.errors import FieldError, MalformedInput, ValidationFailed
from core.model import Envelope, Form, Kind
from core.settings import Settings
from schemas.problems import wrong_package_kind
from schemas.semantics import check_package, envelope_from_package

JSON_DIR = Path(__file__).resolve().parent / "json"
SCHEMA_FILES = {Kind.DOCUMENT: "document.schema.json", Kind.STATUS: "status.schema.json"}


def load_schema(name: str) -> dict[str, Any]:
    with (JSON_DIR / name).open(encoding="utf-8") as fh:
        return json.load(fh)  # type: ignore[no-any-return]


def schema_registry_resources() -> list[tuple[str, dict[str, Any]]]:
    """Every shipped schema by its $id: references resolve locally, never over the network."""
    out = []
    for path in sorted(JSON_DIR.glob("*.schema.json")):
        schema = load_schema(path.name)
        out.append((schema["$id"], schema))
    return out


@cache
def validator(kind: Kind) -> jsonschema_rs.Draft202012Validator:
    registry = jsonschema_rs.Registry(schema_registry_resources())
    return jsonschema_rs.Draft202012Validator(
        load_schema(SCHEMA_FILES[kind]), registry=registry, offline=True
    )


def inlined_schema(kind: Kind) -> dict[str, Any]:
    """The schema of `kind` with every reference inlined, for the OpenAPI description."""
    registry = jsonschema_rs.Registry(schema_registry_resources())
    schema = jsonschema_rs.dereference(load_schema(SCHEMA_FILES[kind]), registry=registry)
    return {k: v for k, v in schema.items() if k not in ("$schema", "$id")}


def json_pointer(parts: list[str | int]) -> str:
    """A JSON path for humans: /to/0/organId."""
    return "/" + "/".join(str(p) for p in parts) if parts else "/"


def _depth(value: Any, limit: int) -> int:
    """Nesting depth, refusing to go past `limit` (so a hostile body costs little)."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return depth
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return deepest


def parse_json(raw: bytes, max_depth: int) -> Any:
    """Decode a JSON body.

    Raises MalformedInput when it is not UTF-8 JSON or nests deeper than `max_depth`.
    """
    try:
        value = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise MalformedInput(
            f"body is not UTF-8 at byte {exc.start}",
            code="json_malformed",
            detail_vi=f"Nội dung không phải UTF-8 tại byte {exc.start}",
        ) from exc
    except json.JSONDecodeError as exc:
        raise MalformedInput(
            f"body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            code="json_malformed",
            errors=[FieldError("/", exc.msg, "JSON không hợp lệ", exc.lineno)],
            detail_vi=f"Nội dung không phải JSON: dòng {exc.lineno}, cột {exc.colno}",
        ) from exc
    except RecursionError as exc:
        raise MalformedInput(
            "body nests too deeply", code="json_too_deep", detail_vi="JSON lồng nhau quá sâu"
        ) from exc
    if _depth(value, max_depth) > max_depth:
        raise MalformedInput(
            f"body nests deeper than {max_depth} levels",
            code="json_too_deep",
            detail_vi=f"JSON lồng nhau sâu hơn {max_depth} mức",
        )
    return value


def schema_errors(kind: Kind, value: Any) -> list[FieldError]:
    """Every JSON Schema violation of `value`, with its path."""
    errors = []
    for err in validator(kind).iter_errors(value):
        path = json_pointer(list(err.instance_path))
        errors.append(FieldError(path, err.message, "Không đúng lược đồ JSON: " + err.message))
    errors.sort(key=lambda e: e.path)
    return errors


def detect_kind(value: dict[str, Any]) -> Kind | None:
    """What a JSON-form package is, when its fields say so unambiguously."""
    status_like = "statusCode" in value
    document_like = "to" in value or "subject" in value or "documentId" in value
    if status_like and not document_like:
        return Kind.STATUS
    if document_like and not status_like:
        return Kind.DOCUMENT
    return None


def check_kind(value: dict[str, Any], kind: Kind) -> None:
    """Refuse a package of the other kind than the endpoint takes, as the edXML codec does.

    Raises ValidationFailed (`wrong_package_kind`).
    """
    found = detect_kind(value)
    if found is None or found is kind:
        return
    raise wrong_package_kind(found, kind, "/")


class JsonCodec:
    """Reads packages in the JSON form of CONTRACT.md."""

    form = Form.JSON

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        for kind in Kind:
            validator(kind)  # compile at start-up, not on the first request

    def read(self, raw: bytes, kind: Kind) -> Envelope:
        value = parse_json(raw, self._settings.limits.max_json_depth)
        if not isinstance(value, dict):
            raise ValidationFailed(
                "a package is a JSON object",
                errors=[FieldError("/", "expected an object", "cần một đối tượng JSON")],
                detail_vi="Gói tin phải là một đối tượng JSON",
            )
        check_kind(value, kind)
        errors = schema_errors(kind, value)
        if errors:
            raise ValidationFailed(
                f"{len(errors)} field(s) do not match the {kind.value} schema",
                errors=errors,
                detail_vi=f"{len(errors)} trường không đúng lược đồ",
            )
        attachments, warnings = check_package(value, kind, self._settings)
        header = {k: v for k, v in value.items() if k != "attachments"}
        return envelope_from_package(header, kind, Form.JSON, attachments, warnings)
