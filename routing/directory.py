"""The organisation directory: units, their codes and aliases, and the systems serving them."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from core.errors import HubError
from core.retry import RetrySchedule
from core.settings import Profile
from routing.groups import GroupSpec, check_groups
from schemas.deviations import STANDARD_ORGAN_ID
from schemas.deviations import is_standard_organ_id as is_standard_organ_id

# QCVN 102:2016 / QĐ 20/2020: LLL.KK.JJ.Xnn, read right to left (schemas/deviations.py)
ORGAN_ID = STANDARD_ORGAN_ID


def hash_key(secret: str) -> str:
    """The stored form of an API key or SOAP password: keys are random, so SHA-256 suffices."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Level(StrEnum):
    PROVINCE = "province"
    DEPARTMENT = "department"
    DISTRICT = "district"
    COMMUNE = "commune"
    EXTERNAL = "external"


class Organization(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=1, max_length=13)
    name: str
    level: Level
    parent: str | None = None
    aliases: tuple[str, ...] = ()
    # a retired unit whose documents now go to its successor
    successor: str | None = None


class SoapEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    wsdl: str
    operation: str = "SendDocument"
    service: str | None = None
    port: str | None = None
    # WS-Security UsernameToken towards the receiver; the password is never in the
    # directory, only the name of the environment variable that holds it
    username: str | None = None
    password_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")

    @model_validator(mode="after")
    def _credentials_whole(self) -> SoapEndpoint:
        if bool(self.username) != bool(self.password_env):
            raise ValueError("a SOAP username needs password_env, and password_env a username")
        return self


class HubPeer(BaseModel):
    """Another lienthong hub this one forwards to (adapter `hub`, docs/federation.md): the
    API key the peer gave this hub is never in the directory, only the name of the
    environment variable that holds it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")


class MailRecipients(BaseModel):
    """A unit without a system, told by e-mail (adapter `email`, docs/adapters.md): who
    gets the mail, whom it is from, and whether the package is attached."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    to: tuple[str, ...] = Field(min_length=1)
    sender: str
    attach: bool = True

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for address in v:
            if not re.fullmatch(r"[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+", address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return v


class Receive(BaseModel):
    """How a system receives: pushed through an adapter, or pulled from its inbox."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["push", "pull"] = "pull"
    adapter: str = "rest"
    url: str | None = None
    format: Literal["json", "edxml"] = "json"
    timeout_s: float | None = None
    soap: SoapEndpoint | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    # another lienthong hub (adapter `hub`)
    hub: HubPeer | None = None
    # a unit told by e-mail (adapter `email`); `url` is the relay, smtp:// or smtps://
    email: MailRecipients | None = None
    # this system's own retry schedule (core/retry.py); None takes the hub's
    # (settings `delivery.retry_schedule`)
    retry: RetrySchedule | None = None
    # the hub polls the system through its adapter this often (hub/polling.py); None: never
    poll_interval_s: float | None = Field(default=None, gt=0)
    # adapter-specific settings, checked at start-up against the adapter's options model
    # (adapters/base.py, docs/adapters.md); names of environment variables for secrets,
    # never secrets
    options: dict[str, Any] = Field(default_factory=dict)


# signature algorithms by name, one vocabulary for XML-DSig and JWS (security/signatures/
# algorithms.py maps each to its URIs and JWS "alg"); the SHA-1 ones only with allow_sha1
SIGNATURE_ALGORITHMS = (
    "rsa-sha256", "rsa-sha384", "rsa-sha512",
    "rsa-pss-sha256", "rsa-pss-sha384", "rsa-pss-sha512",
    "ecdsa-sha256", "ecdsa-sha384", "ecdsa-sha512",
    "rsa-sha1", "rsa-pss-sha1", "ecdsa-sha1",
)


class CertificateMatcher(BaseModel):
    """One certificate a system signs with: every field given must match.

    `subject` and `issuer` are RFC 4514 distinguished names ("CN=...,O=...,C=VN");
    `serial` is hexadecimal (colons allowed); `organization_id` must appear in the
    certificate's subject (O, OU, UID, serialNumber or CN, alone or after a "PREFIX:")
    or in a subject alternative name; `sha256` is the certificate's fingerprint.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str | None = None
    issuer: str | None = None
    serial: str | None = Field(default=None, pattern=r"^(0x)?[0-9A-Fa-f:]+$")
    organization_id: str | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f:]{64,95}$")

    @model_validator(mode="after")
    def _not_empty(self) -> CertificateMatcher:
        if not any((self.subject, self.issuer, self.serial, self.organization_id, self.sha256)):
            raise ValueError("a certificate matcher needs at least one of subject, issuer, "
                             "serial, organization_id, sha256")
        return self


class SignatureRules(BaseModel):
    """How a system's packages are signed (docs/security.md, Signatures).

    `policy` None takes the hub's default (settings `signatures.default_policy`);
    `algorithms` None allows every SHA-2 algorithm; with no `certificates` the signing
    certificate must name the package's sender organisation (as `organization_id` does).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: Literal["required", "if-present", "off"] | None = None
    algorithms: tuple[str, ...] | None = None
    allow_sha1: bool = False
    certificates: tuple[CertificateMatcher, ...] = ()
    co_signatures: bool = False

    @field_validator("algorithms")
    @classmethod
    def _known(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for name in v or ():
            if name not in SIGNATURE_ALGORITHMS:
                raise ValueError(f"unknown signature algorithm {name!r}; known: "
                                 + ", ".join(SIGNATURE_ALGORITHMS))
        return v

    @model_validator(mode="after")
    def _sha1_declared(self) -> SignatureRules:
        sha1 = [n for n in self.algorithms or () if n.endswith("sha1")]
        if sha1 and not self.allow_sha1:
            raise ValueError(f"{', '.join(sha1)} need allow_sha1: true")
        return self


def type_key(name: str) -> str:
    """A document type name compared the way people write it: case, spacing and Unicode
    composition (precomposed or combining accents) do not matter."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


class SendRules(BaseModel):
    """What a system may send: document types by name (NĐ 30/2020: Công văn, Quyết định,
    Báo cáo...); empty means any type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    document_types: tuple[str, ...] = ()
    # may send as organisations outside the province (not in the directory, or of level
    # external): the national platform relays documents and statuses from outside units
    outside: bool = False

    def allows_type(self, type_name: str) -> bool:
        if not self.document_types:
            return True
        return type_key(type_name) in {type_key(t) for t in self.document_types}


class ValidationRules(BaseModel):
    """How a system's packages are validated: `profile` None takes the hub's
    (settings `validation.profile`); docs/validation.md, Profiles and deviations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: Literal["interop", "strict"] | None = None


class System(BaseModel):
    """A connected system: who it is, whom it speaks for, how it receives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = ""
    organizations: tuple[str, ...]
    api_key_hashes: tuple[str, ...] = ()
    receive: Receive = Field(default_factory=Receive)
    signatures: SignatureRules | None = None
    sends: SendRules = Field(default_factory=SendRules)
    validation: ValidationRules = Field(default_factory=ValidationRules)

    @field_validator("api_key_hashes")
    @classmethod
    def _hash_form(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for h in v:
            if not re.fullmatch(r"sha256:[0-9a-f]{64}", h):
                raise ValueError("API keys are stored as 'sha256:<64 hex digits>', never in clear")
        return v

    def serves(self, organ_id: str) -> bool:
        return organ_id in self.organizations

    def profile(self, default: Profile) -> Profile:
        """The validation profile this system's packages are checked under."""
        return self.validation.profile or default


class DirectoryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organizations: list[Organization] = Field(default_factory=list)
    systems: list[System] = Field(default_factory=list)
    # named recipient groups (routing/groups.py)
    groups: list[GroupSpec] = Field(default_factory=list)


class DirectoryError(HubError):
    code = "directory_invalid"
    title = "Directory is invalid"


class Directory:
    """An immutable snapshot of the directory, indexed for the hot path."""

    def __init__(self, organizations: Iterable[Organization], systems: Iterable[System],
                 groups: Iterable[GroupSpec] = ()) -> None:
        self._orgs: dict[str, Organization] = {}
        self._alias: dict[str, str] = {}
        for org in organizations:
            if org.code in self._orgs:
                raise DirectoryError(f"organisation {org.code} is listed twice")
            self._orgs[org.code] = org
        for org in self._orgs.values():
            for alias in org.aliases:
                if alias in self._orgs or alias in self._alias:
                    raise DirectoryError(f"alias {alias} of {org.code} is already a code or alias")
                self._alias[alias] = org.code
            if org.parent and org.parent not in self._orgs:
                raise DirectoryError(f"parent {org.parent} of {org.code} is not in the directory")
        self._systems: dict[str, System] = {}
        self._by_key: dict[str, System] = {}
        self._receiver: dict[str, System] = {}
        for system in systems:
            if system.id in self._systems:
                raise DirectoryError(f"system {system.id} is listed twice")
            self._systems[system.id] = system
            for key_hash in system.api_key_hashes:
                self._by_key[key_hash] = system
            # the built-in push adapters need an address; a plugin's own check (at start-up,
            # adapters/registry.py) says what it needs
            if system.receive.mode == "push" and system.receive.adapter in ("rest", "soap") \
                    and not system.receive.url and not system.receive.soap:
                raise DirectoryError(f"system {system.id} receives by push but has no url")
            for code in system.organizations:
                canonical = self.canonical(code)
                if canonical is None:
                    raise DirectoryError(f"system {system.id} serves unknown organisation {code}")
                if canonical in self._receiver:
                    raise DirectoryError(
                        f"organisation {canonical} is served by both "
                        f"{self._receiver[canonical].id} and {system.id}"
                    )
                self._receiver[canonical] = system
        specs = list(groups)
        problems = check_groups(specs, self)
        if problems:
            raise DirectoryError("; ".join(problems))
        self._groups = {g.code: g for g in specs}

    @classmethod
    def from_file(cls, path: Path) -> Directory:
        """Load a directory YAML file.

        Raises DirectoryError naming the file and what is wrong in it.
        """
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DirectoryError(f"cannot read directory {path}: {exc}") from exc
        return cls.from_bytes(data, str(path))

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "the directory") -> Directory:
        """A directory from the bytes of its YAML file (`where` names it in errors).

        Raises DirectoryError naming the file and what is wrong in it.
        """
        try:
            parsed = DirectoryFile.model_validate(yaml.safe_load(data.decode("utf-8")) or {})
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            raise DirectoryError(f"cannot read directory {where}: {exc}") from exc
        except ValidationError as exc:
            raise DirectoryError(f"directory {where} is invalid: {exc}") from exc
        try:
            return cls(parsed.organizations, parsed.systems, parsed.groups)
        except DirectoryError as exc:
            raise DirectoryError(f"directory {where} is invalid: {exc.detail}") from exc

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Directory:
        parsed = DirectoryFile.model_validate(data)
        return cls(parsed.organizations, parsed.systems, parsed.groups)

    # -- lookups -------------------------------------------------------------------------
    def canonical(self, code: str) -> str | None:
        """The current code of an organisation, following aliases and successions."""
        code = self._alias.get(code, code)
        seen: set[str] = set()
        while code in self._orgs and self._orgs[code].successor and code not in seen:
            seen.add(code)
            code = self._orgs[code].successor or code
        return code if code in self._orgs else None

    def organization(self, code: str) -> Organization | None:
        canonical = self.canonical(code)
        return self._orgs.get(canonical) if canonical else None

    def organizations(self) -> list[Organization]:
        return list(self._orgs.values())

    def knows(self, code: str) -> bool:
        return self.canonical(code) is not None

    def system(self, system_id: str) -> System | None:
        return self._systems.get(system_id)

    def systems(self) -> list[System]:
        return list(self._systems.values())

    def system_for_key(self, secret: str) -> System | None:
        """The system owning an API key, compared by hash in constant time per candidate."""
        digest = hash_key(secret)
        system = self._by_key.get(digest)
        if system is None:
            return None
        # the dict lookup found it; the compare keeps the check explicit
        for stored in system.api_key_hashes:
            if hmac.compare_digest(stored, digest):
                return system
        return None

    def group(self, code: str) -> GroupSpec | None:
        """A named group of the directory file (built-in groups: routing/groups.py)."""
        return self._groups.get(code)

    def groups(self) -> list[GroupSpec]:
        return list(self._groups.values())

    def receiver_for(self, code: str) -> System | None:
        canonical = self.canonical(code)
        return self._receiver.get(canonical) if canonical else None
