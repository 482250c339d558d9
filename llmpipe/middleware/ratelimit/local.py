"""LocalLimiter: the in-process backend, and the default.

Share one instance between clients to give them one quota. A lock guards the
state, so clients on different threads (several sync ``LLM``s) can share it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from llmpipe.middleware.ratelimit.backend import Grant, Limits
from llmpipe.middleware.ratelimit.bucket import start_time

__all__ = ["LocalLimiter"]


class LocalLimiter:
    """Buckets in this process. ``clock`` is injectable for tests (default: the
    monotonic clock asyncio's loop also uses)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._full_at: dict[str, float] = {}
        self._hold_until = float("-inf")
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "LocalLimiter()"

    def reserve(
        self, limits: Limits, requests: int, tokens: int, max_wait: float | None = None
    ) -> Grant:
        """``acquire`` without the coroutine, for callers and tests outside a loop."""
        with self._lock:
            now = self._clock()
            demands = [
                (name, bucket, self._full_at.get(name, now), cost)
                for name, bucket, cost in limits.demands(requests, tokens)
            ]
            start = start_time(now, self._hold_until, [(b, f, c) for _, b, f, c in demands])
            wait = start - now
            if max_wait is not None and wait > 0 and wait >= max_wait:
                return Grant(wait, granted=False)
            for name, bucket, full_at, cost in demands:
                self._full_at[name] = bucket.take(full_at, start, cost)
            return Grant(wait)

    async def acquire(
        self, limits: Limits, requests: int, tokens: int, max_wait: float | None = None
    ) -> Grant:
        return self.reserve(limits, requests, tokens, max_wait)

    async def reconcile(self, limits: Limits, tokens_delta: int) -> None:
        if limits.tokens is None or not tokens_delta:
            return
        with self._lock:
            now = self._clock()
            full_at = self._full_at.get("tokens", now)
            self._full_at["tokens"] = limits.tokens.take(full_at, now, tokens_delta)

    async def hold(self, seconds: float) -> None:
        with self._lock:
            self._hold_until = max(self._hold_until, self._clock() + seconds)

    async def available(self, limits: Limits) -> dict[str, float]:
        with self._lock:
            now = self._clock()
            return {
                name: bucket.level(self._full_at.get(name, now), now)
                for name, bucket, _ in limits.demands(0, 0)
            }
