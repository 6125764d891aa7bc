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
    delivery: Delivery = Field(default_factory=Delivery)
    validation: Validation = Field(default_factory=Validation)
    signatures: Signatures = Field(default_factory=Signatures)

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
