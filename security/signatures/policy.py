"""The signature policy of a connected system, and whether a certificate belongs to it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from routing.directory import CertificateMatcher, SignatureRules
from security.signatures.algorithms import ALGORITHMS, SHA2_NAMES, Algorithm
from security.signatures.refusals import refuse

Mode = Literal["required", "if-present", "off"]

# subject attributes where Vietnamese certificates carry an organisation's code
_ID_ATTRIBUTES = (NameOID.USER_ID, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.ORGANIZATION_NAME,
                  NameOID.SERIAL_NUMBER, NameOID.COMMON_NAME)


@dataclass(frozen=True)
class Policy:
    """What a system's packages must satisfy. Build with `for_system` or `of`."""

    mode: Mode
    algorithms: frozenset[str]
    allow_sha1: bool = False
    certificates: tuple[CertificateMatcher, ...] = ()
    co_signatures: bool = False

    @classmethod
    def of(cls, mode: Mode, rules: SignatureRules | None = None) -> Policy:
        """`mode`, with the rest from the system's rules (or the defaults)."""
        rules = rules or SignatureRules()
        allowed = set(rules.algorithms) if rules.algorithms else set(SHA2_NAMES)
        if rules.allow_sha1 and not rules.algorithms:
            allowed |= {n for n, a in ALGORITHMS.items() if a.sha1}
        return cls(mode, frozenset(allowed), rules.allow_sha1, rules.certificates,
                   rules.co_signatures)

    @classmethod
    def for_system(cls, rules: SignatureRules | None, default: Mode) -> Policy:
        mode: Mode = rules.policy if rules is not None and rules.policy else default
        return cls.of(mode, rules)

    def check_algorithm(self, algorithm: Algorithm) -> None:
        """Raises SignatureRefused (signature_algorithm_refused)."""
        if algorithm.sha1 and not self.allow_sha1:
            raise refuse("signature_algorithm_refused",
                         f"{algorithm.name}: SHA-1 is not allowed for this system",
                         f"{algorithm.name}: hệ thống này không được dùng SHA-1")
        if algorithm.name not in self.algorithms:
            raise refuse("signature_algorithm_refused",
                         f"{algorithm.name} is not among {', '.join(sorted(self.algorithms))}",
                         f"{algorithm.name} không thuộc {', '.join(sorted(self.algorithms))}")

    def check_digest(self, digest: str) -> None:
        """Raises SignatureRefused (signature_algorithm_refused) for SHA-1 unless allowed."""
        if digest == "sha1" and not self.allow_sha1:
            raise refuse("signature_algorithm_refused",
                         "digest SHA-1 is not allowed for this system",
                         "hệ thống này không được dùng hàm băm SHA-1")

    def check_signer(self, cert: x509.Certificate, sender_ids: Iterable[str]) -> None:
        """The certificate must match one of the system's matchers or, when it declares
        none, name the sending organisation.

        Raises SignerNotSender (certificate_not_sender).
        """
        ids = frozenset(i for i in sender_ids if i)
        if self.certificates:
            if any(matches(cert, m) for m in self.certificates):
                return
            why = "it matches none of the certificates the directory lists for the system"
            why_vi = "không khớp chứng thư nào danh bạ khai báo cho hệ thống"
        else:
            if any(names_organisation(cert, i) for i in ids):
                return
            why = f"it does not name {' or '.join(sorted(ids)) or 'the sender'}"
            why_vi = f"chứng thư không ghi mã {' hoặc '.join(sorted(ids)) or 'cơ quan gửi'}"
        raise refuse("certificate_not_sender", f"{cert.subject.rfc4514_string()}: {why}",
                     f"{cert.subject.rfc4514_string()}: {why_vi}")


def matches(cert: x509.Certificate, m: CertificateMatcher) -> bool:
    """Whether every field the matcher gives fits the certificate."""
    if m.subject is not None and not _same_name(cert.subject, m.subject):
        return False
    if m.issuer is not None and not _same_name(cert.issuer, m.issuer):
        return False
    if m.serial is not None:
        wanted = int(m.serial.lower().removeprefix("0x").replace(":", ""), 16)
        if cert.serial_number != wanted:
            return False
    if m.sha256 is not None:
        digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        if digest != m.sha256.replace(":", "").lower():
            return False
    return m.organization_id is None or names_organisation(cert, m.organization_id)


def _same_name(name: x509.Name, text: str) -> bool:
    try:
        wanted = x509.Name.from_rfc4514_string(text)
    except ValueError:
        return False
    return _normal(name) == _normal(wanted)


def _normal(name: x509.Name) -> list[tuple[str, str]]:
    return sorted((a.oid.dotted_string, str(a.value).strip().casefold()) for a in name)


def _holds(value: str, organ_id: str) -> bool:
    value = value.strip()
    # alone, after a "PREFIX:" (MST:..., MNS:...), or at the end of a URN
    return value == organ_id or value.endswith(":" + organ_id)


def names_organisation(cert: x509.Certificate, organ_id: str) -> bool:
    """Whether the certificate carries the organisation code in its subject or a SAN."""
    for oid in _ID_ATTRIBUTES:
        for attribute in cert.subject.get_attributes_for_oid(oid):
            if _holds(str(attribute.value), organ_id):
                return True
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    for general in san:
        value = general.value
        if isinstance(value, str) and _holds(value, organ_id):
            return True
        if isinstance(value, x509.Name):
            if any(_holds(str(a.value), organ_id) for a in value):
                return True
    return False
