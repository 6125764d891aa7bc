"""SOAP test support: zeep clients for a live hub, hand-written envelopes, fault reading."""

from __future__ import annotations

from dataclasses import dataclass

import requests
import zeep
from lxml import etree
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
LT = "https://lienthong.example/soap/v1"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"


def zeep_client(hub_url: str, username: str | None = None, password: str | None = None,
                *, port: str | None = None, huge: bool = False) -> zeep.Client:
    """A zeep client that knows only the WSDL address (and, if given, its credentials).

    `huge` lets it read replies with text over 10 MB (a large package as base64)."""
    session = requests.Session()
    session.trust_env = False  # loopback only: no proxies from the environment
    client = zeep.Client(
        f"{hub_url}/soap?wsdl",
        transport=Transport(session=session, timeout=10, operation_timeout=30),
        wsse=UsernameToken(username, password) if username else None,
        port_name=port,
        settings=zeep.Settings(xml_huge_tree=huge),
    )
    return client


def security(username: str, password: str, digest: bool = False) -> str:
    kind = f"{PROFILE}#PasswordDigest" if digest else f"{PROFILE}#PasswordText"
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}"><wsse:UsernameToken>'
        f"<wsse:Username>{username}</wsse:Username>"
        f'<wsse:Password Type="{kind}">{password}</wsse:Password>'
        "</wsse:UsernameToken></wsse:Security>"
    )


def envelope(body: str, header: str = "", version: str = "1.2") -> bytes:
    """A SoapUI-style request: the envelope as a person would write it by hand."""
    ns = SOAP12 if version == "1.2" else SOAP11
    head = f"<soap:Header>{header}</soap:Header>" if header else "<soap:Header/>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soap:Envelope xmlns:soap="{ns}" xmlns:lt="{LT}">\n'
        f"  {head}\n  <soap:Body>\n    {body}\n  </soap:Body>\n</soap:Envelope>\n"
    ).encode()


def headers(version: str, operation: str) -> dict[str, str]:
    action = f"{LT}/{operation}"
    if version == "1.2":
        return {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}
    return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}


@dataclass
class Fault:
    """What a client reads from a fault: the SOAP code and the hub's detail."""

    soap_code: str
    subcode: str | None
    reason: dict[str, str]
    code: str
    message: str
    message_vi: str | None
    errors: list[dict[str, str]]


def read_fault(content: bytes) -> Fault:
    # the test reads like any client would; the bytes come from the hub under test
    root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    ns = etree.QName(root).namespace
    fault = root.find(f"{{{ns}}}Body/{{{ns}}}Fault")
    assert fault is not None, content
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    if ns == SOAP11:
        soap_code = fault.findtext("faultcode") or ""
        subcode = None
        reason = {"en": fault.findtext("faultstring") or ""}
        detail = fault.find("detail")
    else:
        soap_code = fault.findtext(f"{{{ns}}}Code/{{{ns}}}Value") or ""
        subcode = fault.findtext(f"{{{ns}}}Code/{{{ns}}}Subcode/{{{ns}}}Value")
        reason = {t.get(lang, ""): t.text or "" for t in fault.iterfind(f"{{{ns}}}Reason/*")}
        detail = fault.find(f"{{{ns}}}Detail")
    assert detail is not None, content
    hub = detail.find(f"{{{LT}}}HubFault")
    assert hub is not None, content
    errors = [{etree.QName(c).localname: c.text or "" for c in e}
              for e in hub.iterfind(f"{{{LT}}}Error")]
    return Fault(
        soap_code=soap_code.split(":")[-1],
        subcode=subcode,
        reason=reason,
        code=hub.findtext(f"{{{LT}}}Code") or "",
        message=hub.findtext(f"{{{LT}}}Message") or "",
        message_vi=hub.findtext(f"{{{LT}}}MessageVi"),
        errors=errors,
    )


def hub_fault(exc: BaseException) -> dict[str, object]:
    """The lt:HubFault detail of a zeep Fault, as a dict (Error as a list of dicts)."""
    detail = getattr(exc, "detail", None)
    assert detail is not None, f"no fault detail in {exc!r}"
    fault = detail.find(f"{{{LT}}}HubFault")
    assert fault is not None, etree.tostring(detail)
    out: dict[str, object] = {}
    errors: list[dict[str, str]] = []
    for child in fault:
        name = etree.QName(child).localname
        if name == "Error":
            errors.append({etree.QName(c).localname: c.text or "" for c in child})
        else:
            out[name] = child.text or ""
    out["Error"] = errors
    return out
