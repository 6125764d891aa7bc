"""The JSON form: parse with limits, validate against the JSON Schemas, build the Envelope."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from core.errors import FieldError, MalformedInput, ValidationFailed
from core.model import Envelope, Form, Kind
from core.settings import Profile, Settings
from schemas.deviations import json_findings
from schemas.edxml_messages import TYPE_SHAPES
from schemas.edxml_spec import PACKAGE, Leaf, ListOf, Node, Record, json_fields
from schemas.problems import CodedFieldError, counted, wrong_package_kind
from schemas.profiles import tolerant_json_schema
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
def validator(kind: Kind, tolerant: bool = False) -> jsonschema_rs.Draft202012Validator:
    """The JSON Schema of `kind` as written, or with the tolerances of schemas/profiles.py."""
    resources = schema_registry_resources()
    schema = load_schema(SCHEMA_FILES[kind])
    if tolerant:
        resources = [(uri, tolerant_json_schema(s)) for uri, s in resources]
        schema = tolerant_json_schema(schema)
    registry = jsonschema_rs.Registry(resources)
    return jsonschema_rs.Draft202012Validator(schema, registry=registry, offline=True)


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
            errors=[CodedFieldError(
                "/", f"expected well-formed JSON, found a syntax error at column {exc.colno}",
                f"cần JSON đúng cú pháp, gặp lỗi cú pháp tại cột {exc.colno}", exc.lineno,
                "json_malformed")],
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


def schema_errors(kind: Kind, value: Any, *, tolerant: bool = False) -> list[FieldError]:
    """Every JSON Schema violation of `value`, with its path, in plain words (against the
    schema as written, or the tolerant one the codec uses)."""
    errors: list[FieldError] = []
    for err in validator(kind, tolerant).iter_errors(value):
        errors.append(_plain(err, kind))
    errors.sort(key=lambda e: e.path)
    return errors


_KINDS_OF_VALUE = {"string": ("text", "văn bản"), "object": ("an object", "một đối tượng"),
                   "array": ("a list", "một danh sách"), "integer": ("a number", "một số"),
                   "number": ("a number", "một số"), "boolean": ("true or false", "true/false"),
                   "null": ("null", "null")}


def _shown(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def _what(value: Any) -> tuple[str, str]:
    if isinstance(value, bool):
        return _KINDS_OF_VALUE["boolean"]
    if value is None:
        return _KINDS_OF_VALUE["null"]
    if isinstance(value, str):
        return "text", "văn bản"
    if isinstance(value, dict):
        return _KINDS_OF_VALUE["object"]
    if isinstance(value, list):
        return _KINDS_OF_VALUE["array"]
    return _KINDS_OF_VALUE["number"]


def _plain(err: jsonschema_rs.ValidationError, kind: Kind) -> CodedFieldError:
    """One jsonschema-rs error as a coded, bilingual field error (no validator wording)."""
    parts = list(err.instance_path)
    path = json_pointer(parts)
    detail: Any = err.kind  # one class per keyword, each with its own attributes
    name = type(detail).__name__
    value: Any = err.instance
    field = str(parts[-1]) if parts else "package"
    if name == "Required":
        prop = detail.property
        return CodedFieldError(path, f"expected the field {prop}, found none",
                               f"thiếu trường {prop}", None, "element_missing")
    if name == "AdditionalProperties":
        extra = ", ".join(str(u) for u in detail.unexpected)
        return CodedFieldError(path, f"unexpected field {extra}; the JSON form has no such field"
                                     " here",
                               f"trường {extra} không được phép ở đây", None,
                               "element_unexpected")
    if name == "MaxLength":
        limit = detail.limit
        return CodedFieldError(path, f"expected at most {limit} characters, found {len(value)}",
                               f"tối đa {limit} ký tự, nhận được {len(value)}", None,
                               "value_too_long")
    if name == "MinLength":
        return CodedFieldError(path, "expected a value, found an empty text",
                               "cần có giá trị, đang để trống", None, "value_empty")
    if name == "Type":
        wanted = [str(t).rsplit(".", 1)[-1].lower() for t in detail.types]
        english = " or ".join(_KINDS_OF_VALUE.get(t, (t, t))[0] for t in wanted)
        vietnamese = " hoặc ".join(_KINDS_OF_VALUE.get(t, (t, t))[1] for t in wanted)
        found, found_vi = _what(value)
        return CodedFieldError(path, f"expected {english} for {field}, found {found} "
                                     f"{_shown(value)}",
                               f"{field} cần là {vietnamese}, nhận được {found_vi} "
                               f"{_shown(value)}", None, "value_invalid")
    if name == "Enum":
        allowed = ", ".join(str(o) for o in detail.options)
        return CodedFieldError(path, f"expected one of {allowed}, found {_shown(value)}",
                               f"cần một trong các giá trị {allowed}, nhận được "
                               f"{_shown(value)}", None, "value_invalid")
    if name == "Pattern":
        node = _node_at(parts, kind)
        type_name = node.content.type if node is not None and isinstance(node.content, Leaf) \
            else ""
        shape, shape_vi = TYPE_SHAPES.get(type_name, ("a value of the form the standard gives",
                                                      "giá trị đúng định dạng quy định"))
        return CodedFieldError(path, f"expected {shape}, found {_shown(value)}",
                               f"cần {shape_vi}, nhận được {_shown(value)}", None,
                               "value_invalid")
    if name == "MinItems":
        limit = detail.limit
        return CodedFieldError(path, f"expected at least {limit} entries in {field}, found "
                                     f"{len(value)}",
                               f"{field} cần ít nhất {limit} mục, nhận được {len(value)}", None,
                               "element_missing")
    if name == "MaxItems":
        limit = detail.limit
        code = {"to": "too_many_recipients", "attachments": "too_many_attachments"}.get(
            field, "element_unexpected")
        return CodedFieldError(path, f"expected at most {limit} entries in {field}, found "
                                     f"{len(value)}",
                               f"{field} tối đa {limit} mục, nhận được {len(value)}", None, code)
    return CodedFieldError(path, f"expected {field} as the JSON form describes it, found "
                                 f"{_shown(value)}",
                           f"{field} không đúng cấu trúc gói tin JSON, nhận được "
                           f"{_shown(value)}", None, "value_invalid")


def _node_at(parts: list[str | int], kind: Kind) -> Node | None:
    """The spec node a JSON path stands for (None where the spec has no such key)."""
    node: Node | None = PACKAGE
    for part in parts:
        if node is None:
            return None
        if isinstance(part, int) or str(part).isdigit():
            if isinstance(node.content, ListOf):
                node = node.content.item
            continue  # an index into a repeated element: the same node
        if not isinstance(node.content, Record | ListOf):
            return None
        node = next((f for f in json_fields(kind, node) if f.key == part), None)
    return node


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
            validator(kind, tolerant=True)  # compile at start-up, not on the first request

    def read(self, raw: bytes, kind: Kind, profile: Profile | None = None) -> Envelope:
        """The Envelope of a valid package of `kind`, checked under `profile` (by default the
        settings' `validation.profile`); the deviations it lets through are warnings.

        Raises MalformedInput, PayloadTooLarge (an attachment over its limit) or
        ValidationFailed (code `validation_failed`, each error with its own code).
        """
        profile = profile or self._settings.validation.profile
        value = parse_json(raw, self._settings.limits.max_json_depth)
        if not isinstance(value, dict):
            raise ValidationFailed(
                "a package is a JSON object",
                errors=[FieldError("/", "expected an object", "cần một đối tượng JSON")],
                detail_vi="Gói tin phải là một đối tượng JSON",
            )
        check_kind(value, kind)
        errors = schema_errors(kind, value, tolerant=True)
        if errors and profile == "strict":
            # every problem at once: the deviations the strict profile refuses as well
            _, refused = json_findings(value, kind).settle(profile)
            told = {e.path for e in errors}
            errors.extend(e for e in refused if e.path not in told)
            errors.sort(key=lambda e: e.path)
        if errors:
            raise ValidationFailed(
                f"{counted(len(errors), 'field')} of the {kind.value} package "
                f"{'does' if len(errors) == 1 else 'do'} not follow the JSON form",
                errors=errors,
                detail_vi=f"{len(errors)} trường của gói tin không đúng dạng JSON quy định",
            )
        attachments, warnings = check_package(value, kind, self._settings, profile)
        header = {k: v for k, v in value.items() if k != "attachments"}
        return envelope_from_package(header, kind, Form.JSON, attachments, warnings)
