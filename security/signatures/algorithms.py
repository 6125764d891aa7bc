"""Signature and digest algorithms by name: the directory's vocabulary, XML-DSig URIs, JWS."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from cryptography.hazmat.primitives import hashes

from routing.directory import SIGNATURE_ALGORITHMS

DS = "http://www.w3.org/2000/09/xmldsig#"
MORE = "http://www.w3.org/2001/04/xmldsig-more#"
MORE07 = "http://www.w3.org/2007/05/xmldsig-more#"
XMLENC = "http://www.w3.org/2001/04/xmlenc#"

Family = Literal["rsa-pkcs1", "rsa-pss", "ecdsa"]


@dataclass(frozen=True)
class Algorithm:
    name: str  # as in the directory: rsa-sha256, rsa-pss-sha256, ecdsa-sha256, ...
    family: Family
    hash: str  # sha1, sha256, sha384, sha512
    xml_uri: str
    jws_alg: str | None

    @property
    def sha1(self) -> bool:
        return self.hash == "sha1"


def _table() -> dict[str, Algorithm]:
    out: dict[str, Algorithm] = {}
    for bits in ("256", "384", "512"):
        h = f"sha{bits}"
        out[f"rsa-{h}"] = Algorithm(f"rsa-{h}", "rsa-pkcs1", h, f"{MORE}rsa-{h}", f"RS{bits}")
        # RFC 6931 / xmldsig-more: MGF1 with the same hash, salt as long as the hash
        out[f"rsa-pss-{h}"] = Algorithm(f"rsa-pss-{h}", "rsa-pss", h, f"{MORE07}{h}-rsa-MGF1",
                                        f"PS{bits}")
        out[f"ecdsa-{h}"] = Algorithm(f"ecdsa-{h}", "ecdsa", h, f"{MORE}ecdsa-{h}", f"ES{bits}")
    out["rsa-sha1"] = Algorithm("rsa-sha1", "rsa-pkcs1", "sha1", f"{DS}rsa-sha1", None)
    out["rsa-pss-sha1"] = Algorithm("rsa-pss-sha1", "rsa-pss", "sha1", f"{MORE07}sha1-rsa-MGF1",
                                    None)
    out["ecdsa-sha1"] = Algorithm("ecdsa-sha1", "ecdsa", "sha1", f"{MORE}ecdsa-sha1", None)
    return out


ALGORITHMS = MappingProxyType(_table())
BY_XML_URI = MappingProxyType({a.xml_uri: a for a in ALGORITHMS.values()})
BY_JWS_ALG = MappingProxyType({a.jws_alg: a for a in ALGORITHMS.values() if a.jws_alg})
SHA2_NAMES = frozenset(a.name for a in ALGORITHMS.values() if not a.sha1)

# digest methods of XML-DSig references
DIGESTS = MappingProxyType({
    f"{DS}sha1": "sha1",
    f"{XMLENC}sha256": "sha256",
    f"{MORE}sha384": "sha384",
    f"{XMLENC}sha512": "sha512",
})

HASHES: MappingProxyType[str, type[hashes.HashAlgorithm]] = MappingProxyType({
    "sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
})

# the names the directory accepts are exactly these (checked by a unit test as well)
if set(SIGNATURE_ALGORITHMS) != set(ALGORITHMS):  # pragma: no cover - a programming error
    raise RuntimeError("routing.directory.SIGNATURE_ALGORITHMS and the algorithm table differ")


def hmac_uri(uri: str) -> bool:
    """A keyed-hash method: a shared secret proves nothing about who sent a package."""
    return "hmac" in uri.lower()
