"""Namespaces, operation names and media types of the SOAP service."""

from __future__ import annotations

from dataclasses import dataclass

# the service's own namespace (schemas/wsdl/lienthong-types.xsd)
LT = "https://lienthong.example/soap/v1"
EDXML = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
# WS-Addressing headers carry nothing the hub acts on; they are understood and ignored
WSA = (
    "http://www.w3.org/2005/08/addressing",
    "http://schemas.xmlsoap.org/ws/2004/08/addressing",
)
XML = "http://www.w3.org/XML/1998/namespace"

OPERATIONS = (
    "SendDocument",
    "SendStatus",
    "GetPendingDocumentIds",
    "GetDocument",
    "ConfirmReceived",
    "GetTrace",
    "GetOrganizations",
)


@dataclass(frozen=True)
class SoapVersion:
    """What differs between SOAP 1.1 and 1.2 on the wire."""

    name: str
    namespace: str
    media_type: str
    # the hub's fault classes ("Client", "Server", ...) as this version spells them
    fault_codes: dict[str, str]

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; charset=utf-8"

    def fault_code(self, kind: str) -> str:
        return self.fault_codes.get(kind, self.fault_codes["Server"])


SOAP11 = SoapVersion(
    "1.1",
    "http://schemas.xmlsoap.org/soap/envelope/",
    "text/xml",
    {"Client": "Client", "Server": "Server", "VersionMismatch": "VersionMismatch",
     "MustUnderstand": "MustUnderstand"},
)
SOAP12 = SoapVersion(
    "1.2",
    "http://www.w3.org/2003/05/soap-envelope",
    "application/soap+xml",
    {"Client": "Sender", "Server": "Receiver", "VersionMismatch": "VersionMismatch",
     "MustUnderstand": "MustUnderstand"},
)
VERSIONS = {SOAP11.namespace: SOAP11, SOAP12.namespace: SOAP12}
