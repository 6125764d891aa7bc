"""The one Settings object: a YAML file plus LIENTHONG_* environment variables."""

from __future__ import annotations

import base64
import binascii
import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator
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
    atrest: AtRest = Field(default_factory=AtRest)

    @model_validator(mode="after")
    def _embedded_default(self) -> Settings:
        if self.embedded_worker is None:
            self.embedded_worker = self.redis_url is None
        return self

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
