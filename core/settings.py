"""The one Settings object: a YAML file plus LIENTHONG_* environment variables."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from core.retry import DEFAULT_SCHEDULE, Duration, RetrySchedule
from core.workcalendar import WorkCalendar

_CONFIG_FILE: ContextVar[Path | None] = ContextVar("lienthong_config_file", default=None)

DEMO_DIRECTORY = Path(__file__).resolve().parent.parent / "routing" / "data" / "hue.yaml"


class Limits(BaseModel):
    """Sizes and shapes refused before any real work is done."""

    max_body_bytes: int = 32 * 1024 * 1024
    max_attachment_bytes: int = 20 * 1024 * 1024
    max_attachments: int = 100
    max_xml_depth: int = 64
    max_xml_attributes: int = 32
    max_json_depth: int = 32
    max_recipients: int = 500
    # request headers: how many, and their total size (names and values)
    max_headers: int = 100
    max_header_bytes: int = 32 * 1024
    # a body must arrive within this many seconds, however slowly it trickles
    body_timeout_s: float = 60.0


class RateLimits(BaseModel):
    """Token buckets: per connected system, and per source address for failed logins."""

    enabled: bool = True
    # requests a second a connected system may make, sustained, and its burst
    system_per_s: float = 200.0
    system_burst: int = 400
    # failed authentications a source address may make per minute, and their burst;
    # past that the address is refused (429) for `block_s` seconds
    failures_per_min: float = 30.0
    failure_burst: int = 20
    block_s: float = 60.0
    # refusals of unknown callers and rate-limited requests are audited as one event per
    # source, code and window, with the count, so a flood cannot grow the audit table
    audit_window_s: float = 60.0


class Delivery(BaseModel):
    """How hard, how often and how fast the hub tries to deliver."""

    # the retry schedule of systems whose directory entry sets none (`receive.retry`): the
    # wait before each retry, in order (core/retry.py); the default, 10 retries over 24 h
    retry_schedule: tuple[Duration, ...] = DEFAULT_SCHEDULE
    # the other form, exponential backoff with jitter: used instead of retry_schedule when
    # any of these three is set (setting both forms is refused)
    max_attempts: int = Field(default=8, ge=1)
    min_backoff_ms: int = Field(default=1_000, gt=0)
    max_backoff_ms: int = Field(default=15 * 60 * 1_000, gt=0)
    timeout_s: float = 30.0
    worker_threads: int = 8
    queue_prefetch: int = 256
    # how often each worker process looks for deliveries the broker lost or a worker dropped
    sweep_interval_s: float = Field(default=5.0, gt=0)
    # the attempt lease: a claim lasts this long and is renewed every third of it while the
    # attempt runs, so a long attempt keeps its claim and a dead worker's expires in seconds
    lease_s: float = Field(default=15.0, gt=0)
    # the circuit breaker per receiving system (hub/delivery/breaker.py): after this many
    # transient failures in a row its deliveries wait (no attempt is spent) and one probe
    # goes every breaker_cooldown_s until one succeeds; 0 turns the breaker off
    breaker_failures: int = Field(default=5, ge=0)
    breaker_cooldown_s: float = Field(default=60.0, gt=0)
    # the dispatch lease: an outbox row sent to the broker and not claimed this long after
    # it was due is sent again; the wait doubles with the row's age (a long backlog is not
    # re-sent every sweep), up to dispatch_lease_max_s
    dispatch_lease_s: float = Field(default=20.0, gt=0)
    dispatch_lease_max_s: float = Field(default=300.0, gt=0)
    # seconds a Redis worker may be silent before Redis requeues its prefetched messages
    heartbeat_timeout_s: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _one_retry_form(self) -> Delivery:
        if "retry_schedule" in self.model_fields_set and self._backoff_set():
            raise ValueError("give either delivery.retry_schedule or max_attempts / "
                             "min_backoff_ms / max_backoff_ms, not both")
        return self

    def _backoff_set(self) -> bool:
        return bool({"max_attempts", "min_backoff_ms", "max_backoff_ms"} & self.model_fields_set)

    @property
    def retry(self) -> RetrySchedule:
        """The hub's default retry schedule, in whichever form the settings give it."""
        if self._backoff_set():
            return RetrySchedule(attempts=self.max_attempts,
                                 min_backoff=self.min_backoff_ms / 1000,
                                 max_backoff=self.max_backoff_ms / 1000)
        return RetrySchedule(schedule=self.retry_schedule)


# "interop": what real producers and the national platform emit is carried, each deviation
# from QCVN 102 recorded as a warning; "strict": QCVN 102 to the letter, the same deviations
# refused (docs/validation.md, Profiles and deviations)
Profile = Literal["interop", "strict"]


class Validation(BaseModel):
    """How strict the hub is where real producers differ."""

    # the profile for systems whose directory entry sets none (`validation: {profile: ...}`)
    profile: Profile = "interop"
    # for the ids that address a package (From, To, a status's ResponseFor) under the
    # interop profile: "strict", an id must have the QĐ 20 form LLL.KK.JJ.Xnn; "directory",
    # an id of another form is accepted (with a warning) only when the directory knows it.
    # The strict profile refuses an id of another form anywhere, whatever this says
    organ_id_policy: Literal["strict", "directory"] = "directory"
    # "strict": attachment content must be valid base64; "warn": invalid content is carried
    # through unchanged and the message records a warning
    attachment_base64: Literal["strict", "warn"] = "strict"


class Routing(BaseModel):
    """How the hub routes beyond the directory: the routing rules (routing/rules.py)."""

    model_config = ConfigDict(extra="forbid")

    # a YAML file of rules (docs/operations.md, Routing rules); None: no rules
    rules_file: Path | None = None


class People(BaseModel):
    """People's accounts: how long a bearer token lives, how long a password must be."""

    # a token given without --expires-days lives this long; rotation gives a fresh term
    token_days: int = Field(default=90, ge=1, le=3650)
    min_password_length: int = Field(default=12, ge=8, le=1024)


class Audit(BaseModel):
    """The audit chain's signed checkpoints: how often, with which key, written where."""

    # a checkpoint signs the chain head once this many events were appended since the last
    # one, or once this many seconds passed and at least one event was appended
    checkpoint_every_events: int = Field(default=1000, ge=1)
    checkpoint_every_s: float = Field(default=60.0, gt=0)
    # the hub's Ed25519 signing key (PEM, PKCS#8); created on first start when missing.
    # Default: audit-signing.key beside the SQLite database, ./var/ in production
    signing_key_file: Path | None = None
    # public keys (PEM) of earlier signing keys, so checkpoints they signed still verify
    trusted_public_keys: list[Path] = Field(default_factory=list)
    # the append-only JSON-lines copy of every checkpoint, outside the database. Default:
    # audit-checkpoints.jsonl beside the SQLite database; none in production unless set
    checkpoint_file: Path | None = None
    # also send each checkpoint as one syslog line (tag lienthong-audit-checkpoint)
    checkpoint_syslog: bool = False
    # a socket path (/dev/log) or host:port (UDP)
    syslog_address: str = "/dev/log"
    syslog_facility: str = "local0"


class Polling(BaseModel):
    """Inbound polling (hub/polling.py): systems with `receive.poll_interval_s` are polled
    through their adapter by one process at a time."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # how often the poller looks for a system whose turn has come
    tick_s: float = Field(default=1.0, gt=0)
    # at most this many items per system per poll
    batch: int = Field(default=100, ge=1)


class Deadlines(BaseModel):
    """NĐ 30/2020 deadlines: the working calendar they are counted in (core/workcalendar.py),
    and how often the hub looks for recipients who are late (hub/deadlines.py)."""

    model_config = ConfigDict(extra="forbid")

    # look for late recipients at all (flags, audit events, GET /api/v1/overdue)
    enabled: bool = True
    scan_interval_s: float = Field(default=60.0, gt=0)
    timezone: str = "Asia/Ho_Chi_Minh"
    # working hours: a document arriving after `closes` is due the next working day
    opens: dt.time = dt.time(7, 30)
    closes: dt.time = dt.time(17, 0)
    # ISO weekday numbers: Monday 1 .. Sunday 7
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    # public holidays (Tết, 30/4, 1/5, 2/9, ...) and days off given in exchange, as dates
    holidays: list[dt.date] = Field(default_factory=list)
    # weekend days worked to pay for a bridged holiday ("làm bù")
    extra_working_days: list[dt.date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _a_real_calendar(self) -> Deadlines:
        self.calendar()  # raises ValueError with the reason
        return self

    def calendar(self) -> WorkCalendar:
        """The working calendar. Raises ValueError for an unknown time zone, hours that do
        not open before they close, or a weekday that is not 1-7."""
        return WorkCalendar.of(timezone=self.timezone, opens=self.opens, closes=self.closes,
                               weekdays=self.weekdays, holidays=self.holidays,
                               extra_working_days=self.extra_working_days)


# addresses no configuration may declare internal: reaching them takes an origin that names
# the address itself (the cloud metadata service lives in 169.254/16 and fd00:ec2::/32)
_NEVER_INTERNAL = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "::/128", "fe80::/10", "ff00::/8"))


class Links(BaseModel):
    """Time-limited links to a package in the mails of units told by e-mail (core/links.py):
    on when `public_url` (the hub's address as mail readers reach it) is set."""

    model_config = ConfigDict(extra="forbid")

    public_url: str | None = None
    # the environment variable holding the HMAC secret (at least 32 bytes)
    secret_env: str = Field(default="LIENTHONG_LINK_SECRET", pattern=r"^[A-Z_][A-Z0-9_]*$")
    ttl_s: float = Field(default=7 * 24 * 3600.0, gt=0)


class Egress(BaseModel):
    """The single exit: how the hub reaches receivers (security/egress.py)."""

    model_config = ConfigDict(extra="forbid")

    # the province's own zone: plain HTTP is allowed there and connections go direct; an
    # address in `internal_networks` may be private (a receiver's name may resolve to it)
    internal_networks: list[str] = Field(default_factory=list)
    internal_domains: list[str] = Field(default_factory=list)
    # upstream proxy for everything outside the internal zone (http://host:port, tunnelled
    # with CONNECT to the address the hub checked); None: external destinations go direct
    proxy_url: str | None = None
    # PEM bundle of the CAs receivers' certificates are verified against; None: certifi's
    # Mozilla bundle (point this at /etc/ssl/certs/ca-certificates.crt for the OS store)
    ca_bundle: Path | None = None
    # client certificate for mutual TLS (both or neither); the key's passphrase, if any, is
    # read from the environment variable named here
    client_cert: Path | None = None
    client_key: Path | None = None
    client_key_password_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    # every timeout is always set; read and write use delivery.timeout_s (or the system's
    # receive.timeout_s); name resolution is bounded by connect_timeout_s
    connect_timeout_s: float = Field(default=10.0, gt=0)
    pool_timeout_s: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=100, ge=1)
    max_keepalive_connections: int = Field(default=20, ge=0)
    # an answer longer than this is refused (a receiver's reply is a receipt, a WSDL a few kB)
    max_answer_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)

    @field_validator("internal_networks")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for text in v:
            try:
                net = ipaddress.ip_network(text, strict=False)
            except ValueError as exc:
                raise ValueError(f"{text!r} is not a network (CIDR)") from exc
            for never in _NEVER_INTERNAL:
                if net.version == never.version and net.overlaps(never):  # type: ignore[arg-type]
                    raise ValueError(f"{text} overlaps {never} (unspecified, link-local or "
                                     "multicast), which is never an internal zone")
        return v

    @field_validator("internal_domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        out = []
        for text in v:
            name = text.strip().strip(".").lower()
            if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", name):
                raise ValueError(f"{text!r} is not a domain name (write hue.gov.vn, no scheme)")
            out.append(name)
        return out

    @field_validator("proxy_url")
    @classmethod
    def _proxy(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"http://[^/?#\s]+/?", v):
            raise ValueError("proxy_url must be http://[user:password@]host:port")
        return v

    @model_validator(mode="after")
    def _client_pair(self) -> Egress:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key go together")
        return self
SignaturePolicy = Literal["required", "if-present", "off"]


class Signatures(BaseModel):
    """Package signatures: the policy for systems that set none, and what is trusted.

    `if-present` by default: most connected systems do not sign yet, so an unsigned
    package (or one carrying only a placeholder Signature block) is accepted and recorded
    as unsigned, while a real signature is always verified in full. Set `required` here,
    or per system in the directory, once the senders sign.
    """

    default_policy: SignaturePolicy = "if-present"
    # PEM or DER certificates: files, or folders read whole (*.pem, *.crt, *.cer, *.der)
    trust_anchors: list[Path] = Field(default_factory=list)
    # CRLs (PEM or DER): files, or folders; re-read when a file changes
    crls: list[Path] = Field(default_factory=list)
    # a certificate whose issuer publishes no CRL here is refused (certificate_revocation_unknown)
    require_crl: bool = False
    # seconds between checks of the CRL files' modification times
    crl_check_interval_s: float = 5.0


ATREST_KEY_VARIABLE = "LIENTHONG_ATREST_KEY"
ATREST_OLD_KEYS_VARIABLE = "LIENTHONG_ATREST_OLD_KEYS"
ATREST_KEY_BYTES = 32


def _atrest_key(text: str, where: str) -> bytes:
    """One key: base64 of exactly 32 bytes. The message never quotes the value."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{where} is not base64 (make a key with `lienthong atrest keygen`)"
                         ) from None
    if len(key) != ATREST_KEY_BYTES:
        raise ValueError(f"{where} decodes to {len(key)} bytes; an AES-256 key is "
                         f"{ATREST_KEY_BYTES} (make one with `lienthong atrest keygen`)")
    return key


class AtRest(BaseModel):
    """Protection at rest: stored packages sealed with AES-256-GCM (security/atrest.py).

    Key material is read only from the environment (LIENTHONG_ATREST_KEY, the current key;
    LIENTHONG_ATREST_OLD_KEYS, older keys still accepted for reading, comma-separated), never
    from the settings file, and kept out of repr, dumps and error messages.
    """

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    # seal every package stored from now on; rows stored before stay readable as they are
    enabled: bool = False
    _key: bytes | None = PrivateAttr(default=None)
    _old_keys: tuple[bytes, ...] = PrivateAttr(default=())

    @model_validator(mode="before")
    @classmethod
    def _no_key_material(cls, data: Any) -> Any:
        if isinstance(data, dict):
            misplaced = sorted(str(k) for k in data if k not in cls.model_fields)
            if misplaced:
                raise ValueError(
                    f"atrest takes only `enabled` (not {', '.join(misplaced)}): key material "
                    f"is read only from the environment variables {ATREST_KEY_VARIABLE} and "
                    f"{ATREST_OLD_KEYS_VARIABLE}")
        return data

    @model_validator(mode="after")
    def _keys_from_environment(self) -> AtRest:
        current = os.environ.get(ATREST_KEY_VARIABLE, "")
        if current.strip():
            self._key = _atrest_key(current, ATREST_KEY_VARIABLE)
        elif self.enabled:
            raise ValueError(
                f"atrest.enabled is true but {ATREST_KEY_VARIABLE} is not set: give it the "
                "base64 of 32 random bytes (`lienthong atrest keygen`), or turn atrest off")
        old = os.environ.get(ATREST_OLD_KEYS_VARIABLE, "")
        parts = [p for p in old.split(",") if p.strip()]
        self._old_keys = tuple(
            _atrest_key(p, f"{ATREST_OLD_KEYS_VARIABLE} (key {n} of {len(parts)})")
            for n, p in enumerate(parts, start=1))
        return self

    @property
    def key(self) -> bytes | None:
        """The current key (LIENTHONG_ATREST_KEY), or None when it is not set."""
        return self._key

    @property
    def old_keys(self) -> tuple[bytes, ...]:
        """Older keys still accepted for reading (LIENTHONG_ATREST_OLD_KEYS)."""
        return self._old_keys


class Settings(BaseSettings):
    """Everything configurable, built once at start-up and passed down."""

    model_config = SettingsConfigDict(
        env_prefix="LIENTHONG_",
        env_nested_delimiter="__",
        extra="forbid",
        # an error never echoes a value: some values are secrets (atrest keys, URLs with
        # passwords) and start-up errors end up in logs
        hide_input_in_errors=True,
    )

    database_url: str = "sqlite:///./var/lienthong.db"
    redis_url: str | None = None
    directory_file: Path = DEMO_DIRECTORY
    # seconds between looks at the directory file (modification time, size, then SHA-256);
    # a change is reloaded without a restart (hub/reload.py); 0 turns the watch off
    directory_watch_interval_s: float = Field(default=3.0, ge=0)
    # the organisation the hub itself runs for: its hop in every trace
    hub_organ_id: str = "000.00.00.H57"
    hub_name: str = "Trục liên thông tỉnh (LGSP)"
    broker_namespace: str = "lienthong"
    # embedded mode runs a worker inside the API process
    embedded_worker: bool | None = None
    limits: Limits = Field(default_factory=Limits)
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    delivery: Delivery = Field(default_factory=Delivery)
    validation: Validation = Field(default_factory=Validation)
    routing: Routing = Field(default_factory=Routing)
    people: People = Field(default_factory=People)
    audit: Audit = Field(default_factory=Audit)
    egress: Egress = Field(default_factory=Egress)
    links: Links = Field(default_factory=Links)
    signatures: Signatures = Field(default_factory=Signatures)
    atrest: AtRest = Field(default_factory=AtRest)
    deadlines: Deadlines = Field(default_factory=Deadlines)
    polling: Polling = Field(default_factory=Polling)

    @model_validator(mode="after")
    def _embedded_default(self) -> Settings:
        if self.embedded_worker is None:
            self.embedded_worker = self.redis_url is None
        if self.audit.signing_key_file is None:
            self.audit.signing_key_file = self.state_dir / "audit-signing.key"
        if self.audit.checkpoint_file is None and self.sqlite_file is not None:
            self.audit.checkpoint_file = self.state_dir / "audit-checkpoints.jsonl"
        return self

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file, or None (PostgreSQL, or SQLite in memory)."""
        # parsed here rather than by SQLAlchemy, which the layers below the store never import
        scheme, _, rest = self.database_url.partition(":")
        if scheme.split("+")[0] != "sqlite" or not rest.startswith("///"):
            return None
        database = rest[3:].split("?")[0]
        return Path(database) if database and database != ":memory:" else None

    @property
    def state_dir(self) -> Path:
        """Where the hub keeps files of its own: beside the SQLite database, else ./var."""
        db = self.sqlite_file
        return db.parent if db is not None else Path("var")

    @property
    def embedded(self) -> bool:
        return self.redis_url is None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = _CONFIG_FILE.get() or os.environ.get("LIENTHONG_CONFIG")
        if config:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=Path(config)))
        return tuple(sources)


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from an optional YAML file, the environment and overrides.

    Raises pydantic.ValidationError when a value is malformed or unknown.
    """
    token = _CONFIG_FILE.set(config)
    try:
        return Settings(**overrides)
    finally:
        _CONFIG_FILE.reset(token)
