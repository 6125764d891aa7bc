"""People's accounts: auditors, operators and admins, each with a role and hashed secrets."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from core.tables import Base, utcnow


class Person(Base):
    """A person who uses the console or the API with a bearer token of their own.

    Only hashes are stored: the token's (it is random, so SHA-256) and, where a password
    is set, its argon2 hash.
    """

    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # auditor | operator | admin
    token_hash: Mapped[str | None] = mapped_column(String(80), unique=True)
    token_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
