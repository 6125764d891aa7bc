"""Writing a SOAP reply: the payload element wrapped in an envelope of the caller's version."""

from __future__ import annotations

from lxml import etree

from hub.api.soap.names import SoapVersion


def envelope(version: SoapVersion, payload: etree._Element) -> bytes:
    """The UTF-8 bytes of an envelope whose Body holds `payload`."""
    ns = version.namespace
    root = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns})
    body = etree.SubElement(root, f"{{{ns}}}Body")
    body.append(payload)
    return etree.tostring(root, encoding="utf-8", xml_declaration=True)
