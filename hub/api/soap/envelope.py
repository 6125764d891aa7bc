"""Reading a SOAP request: its version, header blocks and the operation element of its body."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from core.errors import (
    MalformedInput,
    SoapMustUnderstand,
    SoapVersionMismatch,
    UnsupportedMediaType,
)
from core.settings import Limits
from hub.api.soap.names import SOAP11, SOAP12, VERSIONS, WSA, WSSE, SoapVersion
from schemas.edxml_spec import KNOWN_PREFIXES
from schemas.xmlparser import ParsedXml, parse_xml_document

# Envelope, Header/Body and the operation element sit above the package itself
ENVELOPE_DEPTH = 4
# base64 content read straight from the request bytes, never copied into the tree: a
# package sent as base64, and attachments of a package sent inline
ELIDE = frozenset({"PackageBase64", "ContentTransferEncoded"})


@dataclass(frozen=True)
class SoapRequest:
    version: SoapVersion
    # the SOAPAction header (1.1) or the action parameter (1.2); "" when absent
    action: str
    headers: tuple[etree._Element, ...]
    operation: etree._Element
    document: ParsedXml

    @property
    def operation_name(self) -> str:
        return etree.QName(self.operation).localname

    def header(self, namespace: str, name: str) -> list[etree._Element]:
        return [h for h in self.headers if h.tag == f"{{{namespace}}}{name}"]


def _media_params(content_type: str) -> tuple[str, dict[str, str]]:
    base, *rest = content_type.split(";")
    params: dict[str, str] = {}
    for item in rest:
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return base.strip().lower(), params


def version_for(content_type: str | None, soap_action: str | None) -> tuple[SoapVersion, str]:
    """The SOAP version and action a request announces by its headers.

    Raises UnsupportedMediaType for anything but text/xml and application/soap+xml.
    """
    base, params = _media_params(content_type or "")
    if base == SOAP12.media_type:
        return SOAP12, params.get("action", "")
    if base == SOAP11.media_type:
        return SOAP11, (soap_action or "").strip().strip('"')
    raise UnsupportedMediaType(
        f"content type {base or '(none)'!r} is not SOAP: send text/xml (SOAP 1.1) "
        "or application/soap+xml (SOAP 1.2)",
        code="soap_media_type",
        detail_vi="Kiểu nội dung không phải SOAP: hãy gửi text/xml (SOAP 1.1) "
                  "hoặc application/soap+xml (SOAP 1.2)",
    )


def _elements(parent: etree._Element) -> list[etree._Element]:
    # comments and processing instructions between blocks carry nothing
    return [child for child in parent if isinstance(child.tag, str)]


def _must_understand(block: etree._Element, version: SoapVersion) -> bool:
    value = block.get(f"{{{version.namespace}}}mustUnderstand", "")
    return value.strip() in ("1", "true")


def _understood(block: etree._Element) -> bool:
    namespace = etree.QName(block).namespace
    return block.tag == f"{{{WSSE}}}Security" or namespace in WSA


def read_envelope(raw: bytes, version: SoapVersion, action: str, limits: Limits) -> SoapRequest:
    """Parse the envelope (hardened) and find the operation element.

    Raises MalformedInput (not XML, not an envelope, no operation), HostileInput (DTDs,
    entities, absurd depth), PayloadTooLarge, SoapVersionMismatch and SoapMustUnderstand.
    """
    document = parse_xml_document(
        raw,
        max_depth=limits.max_xml_depth + ENVELOPE_DEPTH,
        max_attributes=limits.max_xml_attributes,
        max_bytes=limits.max_body_bytes,
        # an inline package may show the quirks edXML producers have (undeclared edXML: or
        # xlink: prefixes); they are tolerated exactly as in a package sent on its own
        known_prefixes=KNOWN_PREFIXES,
        elide=ELIDE,
    )
    root = document.root
    qname = etree.QName(root)
    if qname.localname != "Envelope":
        raise MalformedInput(
            f"the document element is {qname.localname!r}, not a SOAP Envelope",
            code="soap_envelope_invalid",
            detail_vi="Phần tử gốc không phải SOAP Envelope",
        )
    if qname.namespace != version.namespace:
        other = VERSIONS.get(qname.namespace or "")
        announced = f"SOAP {version.name} ({version.media_type})"
        found = f"a SOAP {other.name} envelope" if other else f"namespace {qname.namespace!r}"
        raise SoapVersionMismatch(
            f"the request announces {announced} but carries {found}",
            detail_vi="Phiên bản SOAP của envelope không khớp với Content-Type",
        )
    parts = _elements(root)
    names = [etree.QName(p).localname for p in parts]
    ns = version.namespace
    if names not in (["Body"], ["Header", "Body"]) or any(
        etree.QName(p).namespace != ns for p in parts
    ):
        raise MalformedInput(
            "a SOAP Envelope holds an optional Header and then one Body",
            code="soap_envelope_invalid",
            detail_vi="SOAP Envelope phải gồm Header (tùy chọn) và một Body",
        )
    headers = tuple(_elements(parts[0])) if len(parts) == 2 else ()
    for block in headers:
        if _must_understand(block, version) and not _understood(block):
            raise SoapMustUnderstand(
                f"the header block {block.tag} is marked mustUnderstand but is not "
                "processed by this service",
                detail_vi="Khối tiêu đề bắt buộc xử lý nhưng dịch vụ không hỗ trợ",
            )
    body = _elements(parts[-1])
    if len(body) != 1:
        raise MalformedInput(
            f"the SOAP Body must hold exactly one operation element, not {len(body)}",
            code="soap_body_invalid",
            detail_vi="SOAP Body phải chứa đúng một phần tử thao tác",
        )
    return SoapRequest(version=version, action=action, headers=headers, operation=body[0],
                       document=document)
