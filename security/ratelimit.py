"""Rate limits: token buckets per key, held in this process or shared through Redis.

A bucket holds up to `burst` tokens and refills at `rate` tokens a second; `take` spends
one. The Redis limiter runs the same arithmetic in one Lua script, so every API process
of a production hub draws from the same buckets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol


class RateLimiter(Protocol):
    def take(self, key: str, rate: float, burst: int) -> float:
        """Spend one token of `key`; 0.0 when allowed, else the seconds until one is back."""
        ...

    def block(self, key: str, seconds: float) -> None:
        """Refuse `key` for `seconds` (see `blocked`)."""
        ...

    def blocked(self, key: str) -> float:
        """Seconds left of a block on `key`; 0.0 when it is not blocked."""
        ...


class MemoryRateLimiter:
    """Buckets in this process (embedded mode, tests)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._blocks: dict[str, float] = {}
        self._lock = threading.Lock()

    def take(self, key: str, rate: float, burst: int) -> float:
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - at) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / rate if rate > 0 else 3600.0
            if len(self._buckets) > 100_000:  # forget full buckets: they hold no state
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] < burst}
        return wait

    def block(self, key: str, seconds: float) -> None:
        with self._lock:
            self._blocks[key] = self._clock() + seconds

    def blocked(self, key: str) -> float:
        with self._lock:
            until = self._blocks.get(key)
            if until is None:
                return 0.0
            left = until - self._clock()
            if left <= 0:
                del self._blocks[key]
                return 0.0
            return left


_TAKE = """
local key, rate, burst, now = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', key, 't', 'at')
local tokens, at = tonumber(state[1]) or burst, tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', key, 't', tokens, 'at', now)
redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisRateLimiter:
    """Buckets in Redis, shared by every process; keys live under `namespace`."""

    def __init__(self, client: Any, namespace: str) -> None:
        self._client = client
        self._ns = namespace
        self._take = client.register_script(_TAKE)

    def take(self, key: str, rate: float, burst: int) -> float:
        """Raises redis errors when Redis is unreachable."""
        wait = self._take(keys=[f"{self._ns}:rl:{key}"], args=[rate, burst, time.time()])
        return float(wait)

    def block(self, key: str, seconds: float) -> None:
        self._client.set(f"{self._ns}:block:{key}", "1", px=max(1, int(seconds * 1000)))

    def blocked(self, key: str) -> float:
        left = self._client.pttl(f"{self._ns}:block:{key}")
        return max(0.0, left / 1000.0) if left and left > 0 else 0.0
