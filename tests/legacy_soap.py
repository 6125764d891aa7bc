"""A tiny legacy SOAP 1.1 service on loopback, as provincial document systems run them."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from schemas.xmlparser import parse_xml
from tests.support import free_port, serving

NS = "urn:qlvb:lienthong"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"

WSDL = f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
             xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
             xmlns:xsd="http://www.w3.org/2001/XMLSchema"
             xmlns:q="{NS}" targetNamespace="{NS}" name="QLVB">
  <types>
    <xsd:schema targetNamespace="{NS}" elementFormDefault="qualified">
      <xsd:element name="NhanVanBan">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="MaDonVi" type="xsd:string" minOccurs="0"/>
          <xsd:element name="NoiDung" type="xsd:string"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
      <xsd:element name="NhanVanBanResponse">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="Result" type="xsd:string"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
    </xsd:schema>
  </types>
  <message name="NhanVanBanIn"><part name="parameters" element="q:NhanVanBan"/></message>
  <message name="NhanVanBanOut"><part name="parameters" element="q:NhanVanBanResponse"/></message>
  <portType name="QLVBPort">
    <operation name="NhanVanBan"><input message="q:NhanVanBanIn"/>
      <output message="q:NhanVanBanOut"/></operation>
  </portType>
  <binding name="QLVBBinding" type="q:QLVBPort">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="NhanVanBan">
      <soap:operation soapAction="{NS}/NhanVanBan"/>
      <input><soap:body use="literal"/></input>
      <output><soap:body use="literal"/></output>
    </operation>
  </binding>
  <service name="QLVBService">
    <port name="QLVBPort" binding="q:QLVBBinding">
      <soap:address location="ADDRESS"/>
    </port>
  </service>
</definitions>
"""


WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"


@dataclass
class Call:
    headers: dict[str, str]
    content: str
    username: str | None = None
    password: str | None = None


@dataclass
class LegacyService:
    """Answers per plan: "ok", "server" / "client" (a fault of that class), "slow", "http503"."""

    url: str
    calls: list[Call] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    wsdl_loads: int = 0
    slow_s: float = 2.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def wsdl(self) -> str:
        return f"{self.url}/qlvb?wsdl"

    def accepted(self) -> list[Call]:
        with self.lock:
            return [c for c, a in zip(self.calls, self.answered, strict=True) if a == "ok"]


def _fault(code: str, text: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP11}"><s:Body>'
            f"<s:Fault><faultcode>s:{code}</faultcode><faultstring>{text}</faultstring>"
            "</s:Fault></s:Body></s:Envelope>").encode()


OK = (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP11}"><s:Body>'
      f'<NhanVanBanResponse xmlns="{NS}"><Result>DA_NHAN</Result></NhanVanBanResponse>'
      "</s:Body></s:Envelope>").encode()


@contextlib.contextmanager
def run_legacy_service() -> Iterator[LegacyService]:
    port = free_port()
    service = LegacyService(url=f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, ctype: str = "text/xml; charset=utf-8"
                  ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            with service.lock:
                service.wsdl_loads += 1
            self._send(200, WSDL.replace("ADDRESS", f"{service.url}/qlvb").encode())

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            root = parse_xml(raw, max_depth=200, max_attributes=50, max_bytes=100_000_000)
            content = root.findtext(f".//{{{NS}}}NoiDung") or ""
            with service.lock:
                answer = service.plan.pop(0) if service.plan else "ok"
                service.calls.append(Call(dict(self.headers), content,
                                          root.findtext(f".//{{{WSSE}}}Username"),
                                          root.findtext(f".//{{{WSSE}}}Password")))
                service.answered.append(answer)
            if answer == "slow":
                time.sleep(service.slow_s)
                self._send(200, OK)
            elif answer == "server":
                self._send(500, _fault("Server", "Hệ thống đang bận"))
            elif answer == "client":
                self._send(500, _fault("Client", "Văn bản không hợp lệ"))
            elif answer == "http503":
                self._send(503, b"busy", "text/plain")
            else:
                self._send(200, OK)

    with serving(port, Handler):
        yield service

