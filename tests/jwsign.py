"""A small JWS signer for tests: signs a JSON-form package as docs/security.md says.

The `"jws"` member holds a JWS with a detached payload over the RFC 8785 canonical JSON of
the package without it. Written from RFC 7515 with `cryptography` (the hub verifies with
joserfc), every knob an attack needs is a keyword.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from tests.pki import Issued

_HASH = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def payload_of(pkg: dict[str, Any]) -> bytes:
    return rfc8785.dumps({k: v for k, v in pkg.items() if k != "jws"})


def raw_signature(alg: str, key: Any, data: bytes, hmac_key: bytes | None = None) -> bytes:
    if alg == "none":
        return b""
    bits = alg[2:]
    if alg.startswith("HS"):
        assert hmac_key is not None
        return hmac.new(hmac_key, data, getattr(hashlib, f"sha{bits}")).digest()
    h = _HASH[bits]()
    if alg.startswith("RS"):
        assert isinstance(key, rsa.RSAPrivateKey)
        return key.sign(data, padding.PKCS1v15(), h)
    if alg.startswith("PS"):
        assert isinstance(key, rsa.RSAPrivateKey)
        return key.sign(data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(h)))
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def x5c(certs: list[Any]) -> list[str]:
    return [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
            for c in certs]


def sign_json(pkg: dict[str, Any], signer: Issued | None, *, alg: str = "PS256",
              form: str = "compact", certs: list[Any] | None = None,
              header: dict[str, Any] | None = None, hmac_key: bytes | None = None,
              payload: bytes | None = None, attached: bool = False,
              unprotected: dict[str, Any] | None = None) -> dict[str, Any]:
    """`pkg` with a "jws" member signed by `signer` (its chain in x5c unless `certs`).

    `payload` replaces the canonical bytes signed (to sign something else); `header`
    adds to or replaces protected header parameters (None values remove one).
    """
    protected: dict[str, Any] = {"alg": alg}
    chain = certs if certs is not None else (signer.certs if signer else [])
    if chain:
        protected["x5c"] = x5c(chain)
    for name, value in (header or {}).items():
        if value is None:
            protected.pop(name, None)
        else:
            protected[name] = value
    head = b64url(json.dumps(protected).encode())
    body = payload if payload is not None else payload_of(pkg)
    signing_input = f"{head}.{b64url(body)}".encode()
    value = b64url(raw_signature(alg, signer.key if signer else None, signing_input, hmac_key))
    middle = b64url(body) if attached else ""
    if form == "compact":
        jws: Any = f"{head}.{middle}.{value}"
    else:
        member: dict[str, Any] = {"protected": head, "signature": value}
        if unprotected:
            member["header"] = unprotected
        if attached:
            member["payload"] = middle
        jws = member if form == "flattened" else {"signatures": [member]}
    return {**pkg, "jws": jws}


def dumps(pkg: dict[str, Any]) -> bytes:
    return json.dumps(pkg, ensure_ascii=False).encode("utf-8")
