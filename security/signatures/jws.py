"""The JWS on the JSON form: where it travels, what it signs, how it is checked.

A JSON-form package is signed by a top-level member `"jws"`: a JWS (RFC 7515) with a
detached payload (Appendix F) whose payload is the RFC 8785 canonical JSON (JCS) of the
package without its `"jws"` member. It may be written in the compact serialisation
(`"<protected>..<signature>"`) or the JSON serialisation, flattened
(`{"protected", "signature"}`) or general (`{"signatures": [...]}`).

Accepted: `alg` RS*/PS*/ES* as the system's policy allows (never `none`, never HS*), every
header parameter protected, the signer's chain in `x5c` (the key comes from its first
certificate, after `pki.py` checked the chain), `iat` or `sigT` as the signing time.
Refused: `jku`/`x5u` (never fetched), a bare `jwk`, `crit`, `b64: false`, an unprotected
`header`, an attached payload, duplicate member names anywhere in the package. joserfc
verifies the signature value with the algorithm named here and the key given here only.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jws as joserfc_jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from security.signatures.algorithms import BY_JWS_ALG, Algorithm
from security.signatures.policy import Policy
from security.signatures.refusals import refuse

MEMBER = "jws"
_HEADERS = frozenset({"alg", "x5c", "typ", "cty", "kid", "iat", "sigT", "x5t", "x5t#S256"})
_REFUSED_EXTERNAL = ("jku", "x5u")
_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}


@dataclass(frozen=True)
class Parsed:
    """One signature of the JWS, read but not yet verified."""

    protected_segment: str
    signature_segment: str
    header: dict[str, Any]
    algorithm: Algorithm
    leaf: x509.Certificate
    intermediates: tuple[x509.Certificate, ...]
    signing_time: str | None


def loads_strict(raw: bytes) -> tuple[Any, list[str]]:
    """JSON, and the member names that appear twice in one object (a signed value must
    read one way only: the caller refuses them where a signature is involved).

    Raises SignatureRefused (jws_malformed) for bytes that are not JSON.
    """
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                duplicates.append(key)
            seen[key] = value
        return seen

    try:
        return json.loads(raw, object_pairs_hook=pairs), duplicates
    except ValueError as exc:
        raise refuse("jws_malformed", f"not JSON: {exc}", f"không phải JSON: {exc}") from exc


def refuse_duplicates(duplicates: list[str], where: str) -> None:
    """Raises SignatureRefused (jws_malformed) when `duplicates` is not empty."""
    if duplicates:
        raise refuse("jws_malformed", f"{where}: the member {duplicates[0]!r} appears twice",
                     f"{where}: thành phần {duplicates[0]!r} xuất hiện hai lần",
                     path=f"/{MEMBER}")


def signed_payload(package: dict[str, Any]) -> bytes:
    """The bytes the JWS signs: JCS of the package without its "jws" member.

    Raises SignatureRefused (jws_malformed) when the package has no canonical form.
    """
    try:
        return rfc8785.dumps({k: v for k, v in package.items() if k != MEMBER})
    except (rfc8785.CanonicalizationError, ValueError, TypeError) as exc:
        raise refuse("jws_malformed", f"the package has no RFC 8785 canonical form: {exc}",
                     f"gói tin không có dạng chuẩn RFC 8785: {exc}") from exc


def _b64url(segment: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise refuse("jws_malformed", f"{what} is not base64url",
                     f"{what} không phải base64url", path=f"/{MEMBER}") from exc


def signatures_of(value: Any) -> list[tuple[str, str]]:
    """(protected, signature) segments of every signature, whatever the serialisation.

    Raises SignatureRefused (jws_malformed).
    """
    path = f"/{MEMBER}"
    if isinstance(value, str):
        parts = value.split(".")
        if len(parts) != 3:
            raise refuse("jws_malformed", "the compact form has three parts separated by dots",
                         "dạng compact gồm ba phần cách nhau bởi dấu chấm", path=path)
        if parts[1]:
            raise refuse("jws_malformed", "the payload must be detached (the package itself "
                         "is the payload)", "phần nội dung phải tách rời (chính gói tin là "
                         "nội dung được ký)", path=path)
        return [(parts[0], parts[2])]
    if not isinstance(value, dict):
        raise refuse("jws_malformed", "expected a string or an object", "cần chuỗi hoặc đối "
                     "tượng JSON", path=path)
    if "payload" in value:
        raise refuse("jws_malformed", "the payload must be detached (the package itself is "
                     "the payload)", "phần nội dung phải tách rời", path=path)
    members = value["signatures"] if "signatures" in value else [value]
    if not isinstance(members, list) or not members or (
            "signatures" in value and set(value) != {"signatures"}):
        raise refuse("jws_malformed", "expected {\"signatures\": [...]} alone",
                     "cần {\"signatures\": [...]}", path=path)
    out = []
    for member in members:
        if not isinstance(member, dict) or set(member) - {"protected", "signature", "header"}:
            raise refuse("jws_malformed", "a signature holds protected and signature only",
                         "mỗi chữ ký chỉ gồm protected và signature", path=path)
        if "header" in member:
            raise refuse("jws_malformed", "unprotected header parameters are refused: every "
                         "parameter must be signed", "không chấp nhận tham số tiêu đề không "
                         "được bảo vệ", path=path)
        protected, signature = member.get("protected"), member.get("signature")
        if not isinstance(protected, str) or not isinstance(signature, str):
            raise refuse("jws_malformed", "protected and signature must be strings",
                         "protected và signature phải là chuỗi", path=path)
        out.append((protected, signature))
    return out


def parse_signature(protected: str, signature: str, policy: Policy) -> Parsed:
    """The protected header read and checked; the signer's certificates taken from x5c.

    Raises SignatureRefused: jws_malformed, signature_algorithm_refused,
    signature_reference_external, certificate_missing, certificate_malformed.
    """
    path = f"/{MEMBER}"
    header, duplicates = loads_strict(_b64url(protected, "the protected header"))
    refuse_duplicates(duplicates, "the protected header")
    if not isinstance(header, dict):
        raise refuse("jws_malformed", "the protected header is not a JSON object",
                     "tiêu đề được bảo vệ không phải đối tượng JSON", path=path)
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise refuse("jws_malformed", "the protected header has no alg",
                     "tiêu đề được bảo vệ thiếu alg", path=path)
    algorithm = BY_JWS_ALG.get(alg)
    if algorithm is None:
        why = ("alg none signs nothing" if alg.lower() == "none" else
               f"{alg}: a keyed hash (HMAC) proves nothing about the sender"
               if alg.upper().startswith("HS") else f"alg {alg!r}")
        raise refuse("signature_algorithm_refused", why, why, path=path)
    policy.check_algorithm(algorithm)
    for name in _REFUSED_EXTERNAL:
        if name in header:
            raise refuse("signature_reference_external", f"{name}={header[name]!r}",
                         f"{name}={header[name]!r}", path=path)
    if "x5c" not in header:
        found = "a bare jwk" if "jwk" in header else "no key"
        raise refuse("certificate_missing", f"the header has no x5c ({found})",
                     f"tiêu đề không có x5c ({found})", path=path)
    unknown = set(header) - _HEADERS
    if unknown:
        raise refuse("jws_malformed", f"header parameters not accepted: "
                     f"{', '.join(sorted(unknown))}", f"tham số tiêu đề không được chấp nhận: "
                     f"{', '.join(sorted(unknown))}", path=path)
    chain = header["x5c"]
    if not isinstance(chain, list) or not chain or not all(isinstance(c, str) for c in chain):
        raise refuse("certificate_malformed", "x5c must be a list of base64 certificates",
                     "x5c phải là danh sách chứng thư base64", path=path)
    certs = []
    for text in chain:
        try:
            certs.append(x509.load_der_x509_certificate(base64.b64decode(text, validate=True)))
        except (binascii.Error, ValueError) as exc:
            raise refuse("certificate_malformed", f"x5c: {exc}", f"x5c: {exc}",
                         path=path) from exc
    _b64url(signature, "the signature")
    return Parsed(protected, signature, header, algorithm, certs[0], tuple(certs[1:]),
                  _signing_time(header))


def _signing_time(header: dict[str, Any]) -> str | None:
    if isinstance(header.get("sigT"), str):
        return str(header["sigT"])
    iat = header.get("iat")
    if isinstance(iat, int | float) and not isinstance(iat, bool):
        try:
            return dt.datetime.fromtimestamp(iat, dt.UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    return None


def verify_value(parsed: Parsed, payload: bytes) -> None:
    """The signature value over `<protected>.<BASE64URL(payload)>`, by joserfc, with the
    leaf's key and the one algorithm the header named (already allowed by the policy).

    Raises SignatureRefused: signature_invalid (key and algorithm do not fit),
    jws_invalid (the value does not verify: the package or the signature changed).
    """
    key_obj = parsed.leaf.public_key()
    pem = key_obj.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
    alg = parsed.algorithm.jws_alg or ""
    key: RSAKey | ECKey
    if parsed.algorithm.family == "ecdsa":
        if not isinstance(key_obj, ec.EllipticCurvePublicKey) \
                or key_obj.curve.name != _CURVES.get(alg):
            raise refuse("signature_invalid", f"{alg} does not fit the certificate's key",
                         f"{alg} không khớp khóa của chứng thư")
        key = ECKey.import_key(pem)
    else:
        if not isinstance(key_obj, rsa.RSAPublicKey):
            raise refuse("signature_invalid", f"{alg} does not fit the certificate's key",
                         f"{alg} không khớp khóa của chứng thư")
        key = RSAKey.import_key(pem)
    registry = joserfc_jws.JWSRegistry(algorithms=[alg], strict_check_header=False)
    # the x5c chain lives in the header; the payload is a whole package
    registry.max_header_length = 1 << 16
    registry.max_payload_length = 2 * len(payload) + 1024
    registry.max_signature_length = 2048
    compact = f"{parsed.protected_segment}..{parsed.signature_segment}"
    try:
        joserfc_jws.deserialize_compact(compact, key, algorithms=[alg], registry=registry,
                                        payload=payload)
    except JoseError as exc:
        raise refuse("jws_invalid", f"{alg} by {parsed.leaf.subject.rfc4514_string()}: "
                     f"{exc.error or type(exc).__name__}",
                     f"{alg} của {parsed.leaf.subject.rfc4514_string()}: chữ ký không khớp "
                     "gói tin") from exc
