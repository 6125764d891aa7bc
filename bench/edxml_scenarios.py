"""edXML scenarios: the same packages over REST and over SOAP 1.2, at 5 KB and 100 KB."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from bench.scenario import Scenario, json_document
from schemas.mapping import json_to_edxml

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
LT = "https://lienthong.example/soap/v1"
WSSE = ("http://docs.oasis-open.org/wss/2004/01/"
        "oasis-200401-wss-wssecurity-secext-1.0.xsd")
PASSWORD_TEXT = ("http://docs.oasis-open.org/wss/2004/01/"
                 "oasis-200401-wss-username-token-profile-1.0#PasswordText")


def edxml_document(n: int, size: int) -> bytes:
    """An edXML document of about `size` bytes: text for small ones, an attachment beyond."""
    import json

    small = min(size, 5 * 1024)
    # the edXML form of a JSON document is about 1.28 times its size
    doc: dict[str, Any] = json.loads(json_document(n, int(small / 1.28)))
    if size > small:
        blob = hashlib.shake_256(str(n).encode()).digest(max(1, (size - small) * 3 // 4))
        doc["attachments"] = [{"contentId": f"cid:att-{n}", "attachmentName": "van-ban.pdf",
                               "contentType": "application/pdf",
                               "content": base64.b64encode(blob).decode()}]
    return json_to_edxml(doc)


def soap_envelope(n: int, size: int) -> bytes:
    from bench.scenario import BENCH_KEY

    package = base64.b64encode(edxml_document(n, size)).decode()
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP12}" '
        f'xmlns:lt="{LT}"><soap:Header><wsse:Security xmlns:wsse="{WSSE}">'
        f"<wsse:UsernameToken><wsse:Username>bench-sender</wsse:Username>"
        f'<wsse:Password Type="{PASSWORD_TEXT}">{BENCH_KEY}</wsse:Password>'
        f"</wsse:UsernameToken></wsse:Security></soap:Header><soap:Body>"
        f"<lt:SendDocument><lt:PackageBase64>{package}</lt:PackageBase64></lt:SendDocument>"
        f"</soap:Body></soap:Envelope>"
    ).encode()


def edxml_scenarios(auth: dict[str, str]) -> list[Scenario]:
    soap_type = f'application/soap+xml; charset=utf-8; action="{LT}/SendDocument"'
    out = []
    for size in (5 * 1024, 100 * 1024):
        label = f"{size // 1024} KB"
        out.append(Scenario(f"POST /api/v1/documents edXML, {label}", "hub",
                            "/api/v1/documents", "application/xml", size, edxml_document, auth))
        out.append(Scenario(f"SOAP 1.2 SendDocument edXML, {label}", "hub", "/soap",
                            soap_type, size, soap_envelope, {}))
    return out
