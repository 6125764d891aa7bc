"""Dates and timestamps in packages: the standard's form, the forms producers use, real days."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

DATE_FORMATS = ("%Y/%m/%d", "%d/%m/%Y")
_DATE_SHAPE = re.compile(r"[0-9]{4}/[0-9]{2}/[0-9]{2}|[0-9]{2}/[0-9]{2}/[0-9]{4}")
_TIME_SHAPE = re.compile(r"[0-9]{2}:[0-9]{2}:[0-9]{2}")

# the standard's forms: year first, as the national platform writes it and DocumentId
# embeds it, and day first, the Vietnamese way of writing a date; the four-digit year at
# one end tells them apart
_YEAR_FIRST = r"(?P<y>[0-9]{4})/(?P<m>[0-9]{2})/(?P<d>[0-9]{2})"
_DAY_FIRST = r"(?P<d>[0-9]{2})/(?P<m>[0-9]{2})/(?P<y>[0-9]{4})"
_SECONDS = r"(?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})"
STANDARD_DATES = tuple(re.compile(p) for p in (_YEAR_FIRST, _DAY_FIRST))
STANDARD_TIMESTAMPS = tuple(re.compile(p + " " + _SECONDS) for p in (_YEAR_FIRST, _DAY_FIRST))
# the forms producers use instead: ISO 8601, and any date with a time in a date field
_ISO = r"(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})"
_CLOCK = (r"(?P<time>[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?)"
          r"(?P<zone>Z|[+-][0-9]{2}:?[0-9]{2})?")
_PRODUCER_FORMS = tuple(re.compile(p) for p in (
    _ISO, *(date + r"[T ]" + _CLOCK for date in (_YEAR_FIRST, _DAY_FIRST, _ISO))))

Verdict = Literal["standard", "producer", "unreal", "unknown"]


@dataclass(frozen=True)
class DateReading:
    """What a date or timestamp text is: its verdict, and how the hub reads it."""

    verdict: Verdict
    read_as: str = ""  # the value in the standard's form, when it is a real one


def parse_date(text: str) -> dt.date | None:
    """A date in either slash form real producers write, or None if it is no real date."""
    if not _DATE_SHAPE.fullmatch(text):  # strptime alone would take 2018/1/5
        return None
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def parse_timestamp(text: str) -> dt.datetime | None:
    """A `date HH:mm:ss` timestamp in either slash form, or None if it is no real moment."""
    date, _, time = text.partition(" ")
    if not _DATE_SHAPE.fullmatch(date) or not _TIME_SHAPE.fullmatch(time):
        return None
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt + " %H:%M:%S")
        except ValueError:
            continue
    return None


def read_date(text: str, timestamp: bool) -> DateReading:
    """Whether `text` is a date (or, with `timestamp`, a moment) in the standard's form, in a
    form producers use, in a known form but naming no real day or time, or nothing known."""
    for form in STANDARD_TIMESTAMPS if timestamp else STANDARD_DATES:
        found = form.fullmatch(text)
        if found is not None:
            return _reading(found, "standard", timestamp)
    for form in _PRODUCER_FORMS:
        found = form.fullmatch(text)
        if found is not None:
            if timestamp and not found.groupdict().get("time"):
                return DateReading("unknown")  # a moment needs its time of day
            return _reading(found, "producer", timestamp)
    return DateReading("unknown")


def _reading(found: re.Match[str], verdict: Verdict, timestamp: bool) -> DateReading:
    year, month, day = (int(found.group(g)) for g in ("y", "m", "d"))
    try:
        when = dt.date(year, month, day)
    except ValueError:
        return DateReading("unreal")
    if year == 0:
        return DateReading("unreal")
    clock = found.groupdict().get("time") or ""
    if clock:
        parts = [int(float(p.replace(",", "."))) for p in clock.split(":")]
        hour, minute, second = (parts + [0, 0])[:3]
        if hour > 23 or minute > 59 or second > 59:
            return DateReading("unreal")
        if timestamp:
            zone = found.groupdict().get("zone") or ""
            zone = " UTC" if zone == "Z" else f" {zone}" if zone else ""
            return DateReading(verdict, f"{when:%Y/%m/%d} {hour:02d}:{minute:02d}:{second:02d}"
                                        f"{zone}")
    return DateReading(verdict, f"{when:%Y/%m/%d}")


def not_a_real_date(value: str, timestamp: bool = False) -> tuple[str, str]:
    """The message (English, Vietnamese) for a date or timestamp that does not exist."""
    if timestamp:
        return (f"expected a real moment (yyyy/MM/dd HH:mm:ss), found {value!r}",
                f"{value!r} không phải là thời điểm có thật")
    return (f"expected a real calendar day, found {value!r}",
            f"{value!r} không phải là ngày có thật")
