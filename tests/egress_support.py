"""Egress test support: a stub resolver, a guard that keeps traffic on loopback, a test CA, an
HTTPS receiver, a CONNECT proxy and an HTTP server that answers as told."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import StreamRequestHandler, ThreadingTCPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support import free_port


# -- name resolution and the loopback guard ---------------------------------------------------
class StubResolver:
    """Answers names from a table; a list of answers is consumed one lookup at a time (the
    last one repeats), so a name can change its answer between lookups (DNS rebinding)."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        answers = self.table.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers.pop(0) if len(answers) > 1 else answers[0]


def _loopback(host: Any) -> bool:
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything connects to, or resolves, anything but a loopback address:
    whatever the gateway does, nothing leaves the machine."""
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            raise AssertionError(f"a connection off the machine was attempted: {address!r}")
        return real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _loopback(host):
            raise AssertionError(f"a real name lookup was attempted: {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# -- an HTTP server that answers as told -----------------------------------------------------
@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """Answers every request with `status`, `headers` and `body`; records each request."""

    url: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    hang: threading.Event | None = None
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", 0) or 0)
            body = self.rfile.read(length) if length else b""
            with server.lock:
                server.hits.append(Hit(self.command, self.path, dict(self.headers), body))
            if server.hang is not None:
                server.hang.wait(30)
                return
            self.send_response(server.status)
            for name, value in server.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(server.body)))
            self.end_headers()
            self.wfile.write(server.body)

        do_GET = do_POST = _answer  # noqa: N815

    return Handler


@contextlib.contextmanager
def run_server(**answer: Any) -> Iterator[Server]:
    port = free_port()
    server = Server(url=f"http://127.0.0.1:{port}", **answer)
    httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(server))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        if server.hang is not None:
            server.hang.set()
        httpd.shutdown()
        httpd.server_close()


# -- a test CA and an HTTPS receiver ----------------------------------------------------------
@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def make_pki(where: Path, server_name: str, *, server_ip: str | None = None) -> Pki:
    """A CA, a server certificate for `server_name` (and `server_ip`, when given) and a
    client certificate, all PEM."""
    now = dt.datetime.now(dt.UTC)
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lienthong test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))

    def leaf(name: str, usage: x509.ObjectIdentifier, san: bool
             ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = _key()
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                   .issuer_name(ca_name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                  critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       ca_key.public_key()), critical=False))
        if san:
            names: list[x509.GeneralName] = [x509.DNSName(name)]
            if server_ip:
                names.append(x509.IPAddress(ipaddress.ip_address(server_ip)))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(ca_key, hashes.SHA256()), key

    server, server_key = leaf(server_name, ExtendedKeyUsageOID.SERVER_AUTH, True)
    client, client_key = leaf("lgsp-hue", ExtendedKeyUsageOID.CLIENT_AUTH, False)
    pem = serialization.Encoding.PEM
    (where / "ca.pem").write_bytes(ca.public_bytes(pem))
    (where / "server.pem").write_bytes(server.public_bytes(pem))
    (where / "client.pem").write_bytes(client.public_bytes(pem))
    return Pki(where / "ca.pem", where / "server.pem", _write_key(server_key, where / "server.key"),
               where / "client.pem", _write_key(client_key, where / "client.key"))


@dataclass
class TlsServer:
    port: int
    server: Server
    sni: list[str | None] = field(default_factory=list)
    client_subjects: list[str] = field(default_factory=list)


@contextlib.contextmanager
def run_tls_server(pki: Pki, *, require_client_cert: bool = False) -> Iterator[TlsServer]:
    """An HTTPS server on loopback presenting the test CA's server certificate."""
    port = free_port()
    tls = TlsServer(port, Server(url=f"https://127.0.0.1:{port}"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki.ca)

    def sni(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        tls.sni.append(name)

    context.sni_callback = sni  # type: ignore[assignment]
    handler = _handler(tls.server)

    class Handler(handler):  # type: ignore[valid-type, misc]
        def setup(self) -> None:
            super().setup()
            peer = self.connection.getpeercert()
            if peer:
                tls.client_subjects.append(str(peer.get("subject")))

    class Httpd(ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self) -> tuple[socket.socket, Any]:
            sock, address = super().get_request()
            return context.wrap_socket(sock, server_side=True), address

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # failed handshakes are what some tests expect

    httpd = Httpd(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield tls
    finally:
        httpd.shutdown()
        httpd.server_close()


# -- an upstream CONNECT proxy ---------------------------------------------------------------
@dataclass
class ConnectProxy:
    """Records every CONNECT target and tunnels it to `upstream_port` on loopback, whatever
    the target: the test's stand-in for the Internet."""

    url: str
    upstream_port: int
    targets: list[str] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)


@contextlib.contextmanager
def run_connect_proxy(upstream_port: int) -> Iterator[ConnectProxy]:
    port = free_port()
    proxy = ConnectProxy(f"http://127.0.0.1:{port}", upstream_port)

    class Handler(StreamRequestHandler):
        def handle(self) -> None:
            request = self.rfile.readline().decode("latin-1").split()
            headers = {}
            while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if len(request) < 2 or request[0] != "CONNECT":
                self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                return
            proxy.targets.append(request[1])
            proxy.authorizations.append(headers.get("proxy-authorization"))
            upstream = socket.create_connection(("127.0.0.1", proxy.upstream_port))
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            _pipe(self.connection, upstream)

    server = ThreadingTCPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()


def _pipe(a: socket.socket, b: socket.socket) -> None:
    try:
        while True:
            ready, _, _ = select.select([a, b], [], [], 10)
            if not ready:
                return
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                (b if sock is a else a).sendall(data)
    finally:
        b.close()
