"""Reading an edXML package: hardened parse, root and kind checks, schema validation."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import FieldError
from core.model import Kind
from core.settings import Limits, Profile
from schemas.edxml_rules import check_kind, check_root, detect_kind
from schemas.edxml_schema import validate_tree
from schemas.edxml_spec import KNOWN_PREFIXES
from schemas.xmlparser import ParsedXml, parse_xml_document

# base64 attachment bodies are read from the raw bytes, never copied into the tree
ELIDE = frozenset({"ContentTransferEncoded"})


def parse_package(raw: bytes, limits: Limits) -> ParsedXml:
    """Parse edXML bytes, hardened, tolerating the producer quirks edXML packages show.

    Raises PayloadTooLarge, HostileInput or MalformedInput.
    """
    return parse_xml_document(
        raw,
        max_depth=limits.max_xml_depth,
        max_attributes=limits.max_xml_attributes,
        max_bytes=limits.max_body_bytes,
        known_prefixes=KNOWN_PREFIXES,
        elide=ELIDE,
    )


@dataclass(frozen=True)
class CheckedPackage:
    """A parsed package of a known kind, with what checking it under a profile found."""

    doc: ParsedXml
    kind: Kind
    # the deviations the profile lets through (the parse's quirks are in `doc`)
    warnings: list[FieldError] = field(default_factory=list)
    # problems of a package whose structure is sound, for the caller to report
    errors: list[FieldError] = field(default_factory=list)


def read_package(raw: bytes, limits: Limits, kind: Kind | None = None,
                 profile: Profile = "interop") -> CheckedPackage:
    """Parse and validate a package under `profile`; `kind` None takes the kind the
    package shows.

    Raises PayloadTooLarge, HostileInput, MalformedInput, or ValidationFailed (not an
    edXML package, a package of the other kind, or not valid against the schema).
    """
    doc = parse_package(raw, limits)
    check_root(doc.root)
    if kind is None:
        kind = detect_kind(doc.root) or Kind.DOCUMENT
    else:
        check_kind(doc.root, kind)
    warnings, errors = validate_tree(doc.root, kind, profile)
    return CheckedPackage(doc, kind, warnings, errors)
