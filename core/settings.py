"""The one Settings object: a YAML file plus LIENTHONG_* environment variables."""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

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

    max_attempts: int = 8
    min_backoff_ms: int = 1_000
    max_backoff_ms: int = 15 * 60 * 1_000
    timeout_s: float = 30.0
    worker_threads: int = 8
    queue_prefetch: int = 256
    sweep_interval_s: float = 15.0
    # an outbox row dispatched this long ago and still not finished is enqueued again
    lease_s: float = 300.0
    # seconds a Redis worker may be silent before its in-flight messages are requeued
    heartbeat_timeout_s: float = 60.0


class Validation(BaseModel):
    """How strict the hub is where real producers differ."""

    # "strict": an OrganId must have the QCVN 102 form; "directory": an id of another form is
    # accepted only when the directory knows it
    organ_id_policy: Literal["strict", "directory"] = "directory"
    # "strict": attachment content must be valid base64; "warn": invalid content is carried
    # through unchanged and the message records a warning
    attachment_base64: Literal["strict", "warn"] = "strict"


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


class Settings(BaseSettings):
    """Everything configurable, built once at start-up and passed down."""

    model_config = SettingsConfigDict(
        env_prefix="LIENTHONG_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    database_url: str = "sqlite:///./var/lienthong.db"
    redis_url: str | None = None
    directory_file: Path = DEMO_DIRECTORY
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
    people: People = Field(default_factory=People)
    audit: Audit = Field(default_factory=Audit)

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
