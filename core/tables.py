"""The declarative base every package's tables share, so one migration history covers them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.orm import DeclarativeBase


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON}


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, for bulk statements that skip the ORM.

    Raises TypeError when the model is not mapped to a table.
    """
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table
