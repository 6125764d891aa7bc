"""Retry schedules: when a failed delivery is tried again, and when it becomes a dead letter.

One model for the hub's default (settings `delivery.retry_schedule`) and for a system's own
(directory `receive.retry`). Two forms, one of them:

    schedule: [1m, 4m, 10m, ...]              the wait before each retry, in order; the
                                              delivery gets len(schedule) + 1 attempts
    attempts: 8, min_backoff: 1s, max_backoff: 15m
                                              exponential: the wait doubles from min_backoff
                                              up to max_backoff, for `attempts` attempts

A duration is a number of seconds or a number with a unit: `250ms`, `30s`, `2m`, `1h`, `1d`.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
# no single wait longer than a week: a longer one is a typo, not a plan
MAX_WAIT_S = 7 * 86400.0
MAX_RETRIES = 100


def parse_duration(value: Any) -> float:
    """Seconds from `30s`, `2m`, `1h`, `1d`, `250ms` or a plain number of seconds.

    Raises ValueError for anything else, a zero or negative wait, or one over a week.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    else:
        raise ValueError(f"{value!r} is not a duration (write 30s, 2m, 1h, 1d or 250ms)")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{value!r}: a wait must be longer than zero")
    if seconds > MAX_WAIT_S:
        raise ValueError(f"{value!r}: a wait may be at most 7 days")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact form: 90 -> `90s`, 3600 -> `1h`, 0.25 -> `250ms`."""
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{round(seconds * 1000)}ms"


Duration = Annotated[float, BeforeValidator(parse_duration)]


class RetrySchedule(BaseModel):
    """When to try again: an explicit `schedule` of waits, or `attempts` with exponential
    backoff between `min_backoff` and `max_backoff` (module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: tuple[Duration, ...] | None = Field(default=None, max_length=MAX_RETRIES)
    attempts: int | None = Field(default=None, ge=1, le=MAX_RETRIES + 1)
    min_backoff: Duration | None = None
    max_backoff: Duration | None = None

    @model_validator(mode="after")
    def _one_form(self) -> RetrySchedule:
        backoff = (self.attempts, self.min_backoff, self.max_backoff)
        if self.schedule is not None and any(v is not None for v in backoff):
            raise ValueError("give either schedule (the waits) or attempts with min_backoff "
                             "and max_backoff, not both")
        if self.schedule is None and self.attempts is None:
            raise ValueError("give schedule (the waits before each retry, e.g. [30s, 2m, "
                             "10m]) or attempts (with min_backoff and max_backoff)")
        if self.schedule is not None and not self.schedule:
            raise ValueError("schedule lists at least one wait (for no retry at all use "
                             "attempts: 1)")
        if (self.min_backoff is not None and self.max_backoff is not None
                and self.min_backoff > self.max_backoff):
            raise ValueError("min_backoff is longer than max_backoff")
        return self

    @property
    def max_attempts(self) -> int:
        """Attempts in all, the first one included."""
        if self.schedule is not None:
            return len(self.schedule) + 1
        return int(self.attempts or 1)

    def wait_s(self, attempts_made: int) -> float:
        """The nominal wait after attempt number `attempts_made` (1-based) failed."""
        n = max(1, attempts_made)
        if self.schedule is not None:
            return float(self.schedule[min(n, len(self.schedule)) - 1])
        low, high = self.backoff_bounds_s()
        return float(min(high, low * 2.0 ** (n - 1)))

    def backoff_bounds_s(self) -> tuple[float, float]:
        """The exponential form's first and longest wait (1 s and 15 min unless given)."""
        low = self.min_backoff if self.min_backoff is not None else 1.0
        high = self.max_backoff if self.max_backoff is not None else max(low, 900.0)
        return low, high

    def total_s(self) -> float:
        """The nominal time from the first attempt to the last (attempt durations aside)."""
        return sum(self.wait_s(n) for n in range(1, self.max_attempts))

    def describe(self) -> str:
        waits = ", ".join(format_duration(self.wait_s(n)) for n in range(1, self.max_attempts))
        return (f"{self.max_attempts} attempts, waits [{waits}], "
                f"{format_duration(self.total_s())} in all")


# the hub's default: ten retries over 24 hours, so a receiver down for a day gets everything
DEFAULT_SCHEDULE: tuple[float, ...] = tuple(parse_duration(w) for w in (
    "1m", "4m", "10m", "15m", "30m", "1h", "2h", "4h", "8h", "8h"))
