"""Offline validation of package files (`lienthong validate FILE...`), either form, either kind.

The form and the kind come from the content, not the file name. Everything the hub checks
on ingest is checked here except what needs the running hub or the layers above: the
organisation directory, earlier documents, and signatures (hub/ingest/offline.py adds
those for `lienthong validate`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.errors import FieldError, HubError, PayloadTooLarge
from core.model import Form, Kind
from core.settings import Profile, Settings
from schemas.edxml_codec import EdxmlCodec
from schemas.edxml_package import parse_package
from schemas.edxml_rules import detect_kind
from schemas.jsonform import JsonCodec, parse_json

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class FileReport:
    """What validating one file found."""

    path: Path
    form: Form | None
    kind: Kind | None
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)
    # the sending organisation, once the package is known to be valid
    sender: str | None = None
    # the validation profile the file was checked under
    profile: Profile = "interop"

    @property
    def valid(self) -> bool:
        return not self.errors


def validate_file(path: Path, settings: Settings, profile: Profile | None = None,
                  ) -> list[FieldError]:
    """Every error in the package stored at `path` (empty when it is valid).

    Never raises for a bad package; an unreadable file is reported as an error too.
    """
    return inspect_file(path, settings, profile).errors


def inspect_file(path: Path, settings: Settings, profile: Profile | None = None,
                 ) -> FileReport:
    """Validate the package at `path` under `profile` (None: the settings'
    `validation.profile`): its form, kind, errors and warnings."""
    profile = profile or settings.validation.profile
    try:
        raw = _read(path, settings.limits.max_body_bytes)
    except OSError as exc:
        return FileReport(path, None, None, [FieldError(
            "/", f"cannot read the file: {exc.strerror or exc}",
            f"không đọc được tệp: {exc.strerror or exc}")], profile=profile)
    except HubError as exc:
        return FileReport(path, None, None, _errors_of(exc), profile=profile)
    form = form_of_bytes(raw)
    kind: Kind | None = None
    try:
        kind = kind_of_bytes(raw, form, settings)
        codec = JsonCodec(settings) if form is Form.JSON else EdxmlCodec(settings)
        envelope = codec.read(raw, kind, profile)
    except HubError as exc:
        return FileReport(path, form, kind, _errors_of(exc), profile=profile)
    return FileReport(path, form, kind, [], list(envelope.warnings), envelope.sender,
                      profile)


def form_of_bytes(raw: bytes) -> Form:
    """JSON when the first character is `{` or `[`; edXML otherwise."""
    head = raw.removeprefix(_BOM).lstrip()[:1]
    return Form.JSON if head in (b"{", b"[") else Form.EDXML


def kind_of_bytes(raw: bytes, form: Form, settings: Settings) -> Kind:
    """A status package has a status code; anything else is checked as a document.

    Raises what parsing raises (MalformedInput, HostileInput, PayloadTooLarge).
    """
    if form is Form.JSON:
        value = parse_json(raw, settings.limits.max_json_depth)
        return Kind.STATUS if isinstance(value, dict) and "statusCode" in value \
            else Kind.DOCUMENT
    root = parse_package(raw, settings.limits).root
    return detect_kind(root) or Kind.DOCUMENT


def _read(path: Path, limit: int) -> bytes:
    with path.open("rb") as fh:
        raw = fh.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(f"the file is over {limit} bytes", code="payload_too_large",
                              detail_vi=f"Tệp vượt quá {limit} byte")
    return raw


def _errors_of(exc: HubError) -> list[FieldError]:
    if exc.errors:
        return list(exc.errors)
    return [FieldError("/", exc.detail, exc.detail_vi)]

