"""The verdict on a package's signature: what the message record, audit and API show."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.errors import FieldError

Status = Literal["verified", "unsigned", "not_checked"]


@dataclass(frozen=True)
class Signer:
    """Who signed, as the certificate says."""

    subject: str
    issuer: str
    serial: str  # hexadecimal
    sha256: str
    not_before: str
    not_after: str

    @classmethod
    def of(cls, cert: x509.Certificate) -> Signer:
        return cls(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            serial=format(cert.serial_number, "x"),
            sha256=hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
            not_before=cert.not_valid_before_utc.isoformat(),
            not_after=cert.not_valid_after_utc.isoformat(),
        )

    def as_dict(self) -> dict[str, str]:
        return {"subject": self.subject, "issuer": self.issuer, "serial": self.serial,
                "sha256": self.sha256, "not_before": self.not_before,
                "not_after": self.not_after}


@dataclass(frozen=True)
class Verdict:
    """`verified`: every signature checked and accepted; `unsigned`: no signature (maybe a
    placeholder block, see `note`); `not_checked`: the policy is `off`."""

    status: Status
    policy: str
    format: Literal["xmldsig", "jws"] | None = None
    signers: tuple[Signer, ...] = ()
    algorithm: str | None = None
    digest: str | None = None
    canonicalization: str | None = None
    signing_time: str | None = None
    revocation: Literal["crl", "no_crl"] | None = None
    # what the signature covers, as the references say
    covers: tuple[str, ...] = ()
    note: str = ""
    warnings: tuple[FieldError, ...] = ()
    checked_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())

    @property
    def signed(self) -> bool:
        return self.status == "verified"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "signed": self.signed,
                               "policy": self.policy}
        if self.format:
            out["format"] = self.format
        if self.signers:
            first = self.signers[0]
            out.update(subject=first.subject, issuer=first.issuer, serial=first.serial,
                       certificate_sha256=first.sha256)
            out["signers"] = [s.as_dict() for s in self.signers]
        for key in ("algorithm", "digest", "canonicalization", "signing_time", "revocation"):
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.covers:
            out["covers"] = list(self.covers)
        if self.note:
            out["note"] = self.note
        out["checked_at"] = self.checked_at
        return out
