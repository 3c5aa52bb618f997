"""Per-token rate (token bucket) and concurrency limits; over a limit is a 429 with Retry-After.

The state lives in this server process: with several replicas each enforces its own share.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from optimiser.service.errors import ApiError


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class Limiter:
    """`rate` requests/s with bursts of `burst`, and at most `concurrent` in flight, per owner."""

    rate: float
    burst: int
    concurrent: int
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _in_flight: dict[str, int] = field(default_factory=dict)

    def admit(self, owner: str) -> None:
        """Count one request in by both limits, or raise a 429 ApiError saying when to retry."""
        self.take(owner)
        self.enter(owner)

    def take(self, owner: str) -> None:
        """The rate limit: take one token of the owner's bucket (checked before the body is
        read, so a flood is refused cheaply), or raise a 429."""
        now = time.monotonic()
        bucket = self._buckets.get(owner)
        if bucket is None:
            bucket = self._buckets[owner] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens < 1.0:
            wait = math.ceil((1.0 - bucket.tokens) / self.rate)
            raise ApiError(
                429,
                "rate_limited",
                f"rate limit: at most {self.rate:g} requests/s (bursts of {self.burst}) per token",
                headers={"Retry-After": str(max(1, wait))},
            )
        bucket.tokens -= 1.0

    def enter(self, owner: str) -> None:
        """The concurrency limit: one of the owner's slots, taken once the request's body is
        complete (a slow upload holds none), or raise a 429. Release it with release()."""
        if self._in_flight.get(owner, 0) >= self.concurrent:
            raise ApiError(
                429,
                "too_many_concurrent",
                f"concurrency limit: at most {self.concurrent} requests in flight per token",
                headers={"Retry-After": "1"},
            )
        self._in_flight[owner] = self._in_flight.get(owner, 0) + 1

    def release(self, owner: str) -> None:
        left = self._in_flight.get(owner, 0) - 1
        if left > 0:
            self._in_flight[owner] = left
        else:
            self._in_flight.pop(owner, None)
