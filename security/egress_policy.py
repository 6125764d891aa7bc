"""Where each system's deliveries may go: registered origins, address classes, the internal zone.

Pure decisions, no I/O: the gateway (security/egress.py) asks, resolves names, and refuses
with the code a decision names. A destination passes when

1. its origin (scheme, host, port) is registered for the delivery's system;
2. every address its host resolves to is public, or lies in a configured internal network,
   or is the very address the registered origin names (loopback, private, link-local,
   CGNAT, unspecified, multicast and reserved addresses are otherwise refused, so a name
   cannot be pointed at the metadata service or the hub's own database);
3. it is reached over HTTPS (mail: smtps), unless it is in the internal zone (an internal
   domain, every address in an internal network, or an address the origin names literally).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# special-purpose ranges (RFC 6890 and friends) and what to call them in a refusal
SPECIAL: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), label) for net, label in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.169.254/32", "cloud metadata"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b::/96", "NAT64"),
        ("100::/64", "reserved"),
        ("fd00:ec2::254/128", "cloud metadata"),
        ("fc00::/7", "private"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    ))


def address_class(address: IPAddress) -> str | None:
    """What kind of special address this is, or None for a public one.

    An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is judged by the IPv4 address it carries.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
    for network, label in SPECIAL:
        if address.version == network.version and address in network:
            return label
    return None


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


# what the gateway speaks: HTTP(S) for every adapter, SMTP for mail (security/egress_smtp.py)
SCHEMES = ("http", "https", "smtp", "smtps")


@dataclass(frozen=True, order=True)
class Origin:
    """scheme://host:port, the host lower-case and IDNA-encoded, the port explicit."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @classmethod
    def of(cls, url: str | httpx.URL) -> Origin:
        """Raises ValueError when `url` is not an absolute URL with a host."""
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise ValueError(f"not a URL: {exc}") from exc
        if not parsed.scheme or not parsed.raw_host:
            raise ValueError("not an absolute URL with a host")
        scheme = parsed.scheme.lower()
        port = parsed.port or {"https": 443, "http": 80, "smtps": 465, "smtp": 25,
                               "sftp": 22, "ssh": 22}.get(scheme, 0)
        return cls(scheme, parsed.raw_host.decode("ascii").lower(), port)


@dataclass(frozen=True)
class Refusal:
    """Why a destination is refused: a stable code and a sentence in English and Vietnamese."""

    code: str
    reason: str
    reason_vi: str


@dataclass(frozen=True)
class Route:
    """A destination that passed: where to connect, and whether it is inside the zone."""

    origin: Origin
    addresses: tuple[str, ...]
    internal: bool


class Zone:
    """The province's internal zone: networks and domains where plain HTTP is allowed and
    connections go direct rather than through the upstream proxy."""

    def __init__(self, networks: Iterable[str] = (), domains: Iterable[str] = ()) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in networks)
        self.domains = tuple(d.strip(".").lower() for d in domains)

    def has_address(self, address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in self.networks)

    def has_name(self, host: str) -> bool:
        return any(host == d or host.endswith("." + d) for d in self.domains)


class Policy:
    """Every system's registered origins, and the rules above."""

    def __init__(self, destinations: Mapping[str, Iterable[str]], zone: Zone) -> None:
        self.zone = zone
        self._origins: dict[str, frozenset[Origin]] = {}
        self._owners: dict[Origin, list[str]] = {}
        for system_id, urls in destinations.items():
            found = set()
            for url in urls:
                try:
                    found.add(Origin.of(url))
                except ValueError:
                    continue  # a local WSDL file, or nothing: not a network destination
            self._origins[system_id] = frozenset(found)
            for o in found:
                self._owners.setdefault(o, []).append(system_id)

    def origins(self, system_id: str) -> frozenset[Origin]:
        return self._origins.get(system_id, frozenset())

    def registered(self, origin: Origin) -> bool:
        """Whether any system registers this origin (a bounded label for metrics)."""
        return origin in self._owners

    def admit(self, system_id: str, origin: Origin,
              schemes: tuple[str, ...] = SCHEMES) -> Refusal | None:
        """Before any name is resolved: is this origin one of the system's? `schemes`: those
        the caller speaks (a checked socket, SystemEgress.connect, is for sftp/ssh only)."""
        if origin.scheme not in schemes:
            return Refusal("egress_not_registered",
                           f"{origin.scheme}: is not a scheme the hub speaks here "
                           f"({', '.join(schemes)})",
                           f"giao thức {origin.scheme}: không được hỗ trợ "
                           f"(chỉ {', '.join(schemes)})")
        if origin in self.origins(system_id):
            return None
        owners = [s for s in self._owners.get(origin, []) if s != system_id]
        if owners:
            return Refusal(
                "egress_other_system",
                f"system {system_id} may not reach {origin}: it is registered for "
                f"{', '.join(sorted(owners))}, not for {system_id}",
                f"hệ thống {system_id} không được gửi tới {origin}: địa chỉ này đăng ký cho "
                f"hệ thống khác ({', '.join(sorted(owners))})")
        literal = ip_literal(origin.host)
        kind = address_class(literal) if literal is not None else None
        if kind is not None:
            return Refusal(
                "egress_address_blocked",
                f"system {system_id} may not reach {origin}: a {kind} address that no origin "
                f"of the system names",
                f"hệ thống {system_id} không được gửi tới {origin}: địa chỉ đặc biệt ({kind}) "
                "không thuộc địa chỉ đã đăng ký của hệ thống")
        return Refusal(
            "egress_not_registered",
            f"system {system_id} may not reach {origin}: not one of its registered "
            "destinations (receive.url, receive.soap.wsdl)",
            f"hệ thống {system_id} không được gửi tới {origin}: không phải địa chỉ đã đăng ký "
            "của hệ thống")

    def vet(self, system_id: str, origin: Origin, addresses: Sequence[str]
            ) -> Route | Refusal:
        """After resolution: may every address be reached, and over this scheme?"""
        literal = ip_literal(origin.host)
        parsed: list[IPAddress] = []
        for text in addresses:
            address = ip_literal(text)
            if address is None:
                return Refusal("egress_address_blocked",
                               f"{origin.host} resolved to {text!r}, which is not an address",
                               f"{origin.host} phân giải ra {text!r}, không phải địa chỉ IP")
            parsed.append(address)
        if not parsed:
            return Refusal("egress_address_blocked", f"{origin.host} resolved to no address",
                           f"{origin.host} không phân giải ra địa chỉ nào")
        internal = True
        for address in parsed:
            kind = address_class(address)
            in_zone = self.zone.has_address(address)
            named = literal is not None and address == literal
            if kind is not None and not (in_zone or named):
                return Refusal(
                    "egress_address_blocked",
                    f"system {system_id} may not reach {origin}: {origin.host} resolves to "
                    f"{address}, a {kind} address; only an origin naming that address itself, "
                    "or an internal network (egress.internal_networks), reaches it",
                    f"hệ thống {system_id} không được gửi tới {origin}: {origin.host} trỏ tới "
                    f"{address}, một địa chỉ đặc biệt ({kind})")
            internal = internal and (in_zone or kind is not None)
        internal = internal or self.zone.has_name(origin.host)
        if origin.scheme == "http" and not internal:
            return _plain_http(system_id, origin)
        if origin.scheme == "smtp" and not internal:
            return _plain_smtp(system_id, origin)
        return Route(origin, tuple(str(a) for a in parsed), internal)


def _plain_smtp(system_id: str, origin: Origin) -> Refusal:
    return Refusal(
        "egress_plain_smtp",
        f"system {system_id} may not reach {origin} over smtp://: outside the internal zone "
        "(egress.internal_networks, egress.internal_domains) only smtps:// (TLS from the "
        "first byte) is used",
        f"hệ thống {system_id} không được gửi thư tới {origin} bằng smtp://: ngoài vùng mạng "
        "nội bộ chỉ dùng smtps:// (mã hóa TLS)")


def _plain_http(system_id: str, origin: Origin) -> Refusal:
    return Refusal(
        "egress_plain_http",
        f"system {system_id} may not reach {origin} over plain HTTP: outside the internal "
        "zone (egress.internal_networks, egress.internal_domains) only HTTPS is used",
        f"hệ thống {system_id} không được gửi tới {origin} bằng HTTP không mã hóa: ngoài vùng "
        "mạng nội bộ chỉ dùng HTTPS")
