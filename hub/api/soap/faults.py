"""Rendering any HubError as a SOAP 1.1 or 1.2 fault with the hub's stable code in its detail."""

from __future__ import annotations

from lxml import etree

from core.errors import AuthenticationFailed, HubError, RateLimited, UnsupportedMediaType
from hub.api.soap.names import LT, SOAP11, XML, SoapVersion

# the SOAP HTTP bindings answer every fault with 500; the exceptions are deliberate
FAULT_STATUS = 500


def _text(parent: etree._Element, tag: str, value: str) -> etree._Element:
    child = etree.SubElement(parent, tag)
    child.text = value
    return child


def hub_fault(exc: HubError) -> etree._Element:
    """The lt:HubFault detail: code, title, the sentence in English and Vietnamese, fields."""
    fault = etree.Element(f"{{{LT}}}HubFault", nsmap={"lt": LT})
    _text(fault, f"{{{LT}}}Code", exc.code)
    _text(fault, f"{{{LT}}}Title", exc.title)
    _text(fault, f"{{{LT}}}Status", str(exc.http_status))
    _text(fault, f"{{{LT}}}Message", exc.detail)
    if exc.detail_vi:
        _text(fault, f"{{{LT}}}MessageVi", exc.detail_vi)
    for err in exc.errors:
        item = etree.SubElement(fault, f"{{{LT}}}Error")
        _text(item, f"{{{LT}}}Path", err.path)
        _text(item, f"{{{LT}}}Message", err.message)
        if err.message_vi:
            _text(item, f"{{{LT}}}MessageVi", err.message_vi)
        if err.line is not None:
            _text(item, f"{{{LT}}}Line", str(err.line))
        code = err.as_dict().get("code")
        if code:
            _text(item, f"{{{LT}}}Code", str(code))
    return fault


def fault(version: SoapVersion, exc: HubError) -> etree._Element:
    """The soap:Fault element for `exc`, coded by its class (Client/Sender, Server/Receiver)."""
    ns = version.namespace
    code = version.fault_code(exc.soap_fault)
    element = etree.Element(f"{{{ns}}}Fault", nsmap={"soap": ns, "lt": LT})
    if version is SOAP11:
        _text(element, "faultcode", f"soap:{code}")
        _text(element, "faultstring", exc.detail).set(f"{{{XML}}}lang", "en")
        etree.SubElement(element, "detail").append(hub_fault(exc))
        return element
    code_el = etree.SubElement(element, f"{{{ns}}}Code")
    _text(code_el, f"{{{ns}}}Value", f"soap:{code}")
    subcode = etree.SubElement(code_el, f"{{{ns}}}Subcode")
    _text(subcode, f"{{{ns}}}Value", f"lt:{exc.code}")
    reason = etree.SubElement(element, f"{{{ns}}}Reason")
    _text(reason, f"{{{ns}}}Text", exc.detail).set(f"{{{XML}}}lang", "en")
    if exc.detail_vi:
        _text(reason, f"{{{ns}}}Text", exc.detail_vi).set(f"{{{XML}}}lang", "vi")
    etree.SubElement(element, f"{{{ns}}}Detail").append(hub_fault(exc))
    return element


def http_status(exc: HubError, challenge: bool) -> int:
    """500 for faults, 415 for a body that is not SOAP at all, 429 over a rate limit (with
    Retry-After, so clients back off as they would for REST), and 401 when `challenge`
    (credentials sent or expected over HTTP) so clients that wait for one send Basic."""
    if isinstance(exc, AuthenticationFailed) and challenge:
        return 401
    if isinstance(exc, UnsupportedMediaType):
        return 415
    if isinstance(exc, RateLimited):
        return 429
    return FAULT_STATUS
