"""The retry policy: a schedule of waits or exponential backoff, with jitter, then the
dead-letter state."""

from __future__ import annotations

import random
from dataclasses import dataclass

from core.retry import RetrySchedule
from core.settings import Delivery as DeliverySettings

# a scheduled wait is drawn from [90 %, 110 %] of its nominal value: the mean is the schedule
SCHEDULE_JITTER = 0.10


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    min_backoff_ms: int
    max_backoff_ms: int
    # explicit waits (ms) before each retry; when set, the backoff bounds are not used
    waits_ms: tuple[int, ...] = ()

    @classmethod
    def from_settings(cls, s: DeliverySettings) -> RetryPolicy:
        return cls.from_schedule(s.retry)

    @classmethod
    def from_schedule(cls, schedule: RetrySchedule) -> RetryPolicy:
        if schedule.schedule is not None:
            waits = tuple(max(1, round(w * 1000)) for w in schedule.schedule)
            return cls(schedule.max_attempts, min(waits), max(waits), waits)
        low, high = schedule.backoff_bounds_s()
        return cls(schedule.max_attempts, max(1, round(low * 1000)), max(1, round(high * 1000)))

    def should_retry(self, attempts_made: int) -> bool:
        return attempts_made < self.max_attempts

    def backoff_ms(self, attempts_made: int, rng: random.Random | None = None) -> int:
        """Delay before the next attempt.

        A schedule's wait is its nominal value +-10 %; backoff is half fixed, half random,
        doubling each time. The random part spreads retries of many deliveries to one
        recovering receiver.
        """
        r = rng or random
        if self.waits_ms:
            nominal = self.waits_ms[min(max(1, attempts_made), len(self.waits_ms)) - 1]
            return max(1, int(nominal * r.uniform(1 - SCHEDULE_JITTER, 1 + SCHEDULE_JITTER)))
        ceiling = min(self.max_backoff_ms, self.min_backoff_ms * 2 ** max(0, attempts_made - 1))
        half = ceiling / 2
        return int(half + r.uniform(0, half))
