"""The retry policy: exponential backoff with jitter, then the dead-letter state."""

from __future__ import annotations

import random
from dataclasses import dataclass

from core.settings import Delivery as DeliverySettings


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    min_backoff_ms: int
    max_backoff_ms: int

    @classmethod
    def from_settings(cls, s: DeliverySettings) -> RetryPolicy:
        return cls(s.max_attempts, s.min_backoff_ms, s.max_backoff_ms)

    def should_retry(self, attempts_made: int) -> bool:
        return attempts_made < self.max_attempts

    def backoff_ms(self, attempts_made: int, rng: random.Random | None = None) -> int:
        """Delay before the next attempt: half fixed, half random, doubling each time.

        The random half spreads retries of many deliveries to one recovering receiver.
        """
        ceiling = min(self.max_backoff_ms, self.min_backoff_ms * 2 ** max(0, attempts_made - 1))
        half = ceiling / 2
        return int(half + (rng or random).uniform(0, half))
