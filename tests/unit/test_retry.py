"""Backoff doubles with jitter, stays within its bounds, and gives up after the last attempt."""

from __future__ import annotations

import random

from hub.delivery.retry import RetryPolicy


def test_backoff_doubles_within_jitter_and_caps() -> None:
    policy = RetryPolicy(max_attempts=8, min_backoff_ms=1000, max_backoff_ms=10_000)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1000), (2, 2000), (3, 4000), (4, 8000), (5, 10_000),
                             (9, 10_000)]:
        delays = [policy.backoff_ms(attempt, rng) for _ in range(200)]
        assert min(delays) >= ceiling // 2 and max(delays) <= ceiling
        assert len(set(delays)) > 50  # jitter spreads retries


def test_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, min_backoff_ms=10, max_backoff_ms=100)
    assert [policy.should_retry(n) for n in (1, 2, 3, 4)] == [True, True, False, False]
