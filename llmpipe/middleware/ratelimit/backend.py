"""Where rate-limit state lives: the small protocol every backend follows.

``RateLimitMiddleware`` owns the limits (a ``Limits``) and the waiting; a
backend only keeps the buckets and answers, atomically, "when may a call
needing this much start?". ``LocalLimiter`` keeps them in the process,
``RedisLimiter`` in Redis, so many processes share one quota.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from llmpipe.middleware.ratelimit.bucket import Bucket

__all__ = ["Grant", "LimiterBackend", "LimiterUnavailable", "Limits"]


class LimiterUnavailable(Exception):
    """A backend's store cannot be reached. ``RateLimitMiddleware`` then limits
    in process for a while instead of failing the call."""


@attrs.frozen
class Limits:
    """The buckets one middleware enforces; None: no limit of that kind."""

    requests: Bucket | None = None
    tokens: Bucket | None = None

    def demands(self, requests: int, tokens: int) -> list[tuple[str, Bucket, float]]:
        """``(name, bucket, cost)`` for each bucket that is set."""
        pairs = (("requests", self.requests, requests), ("tokens", self.tokens, tokens))
        return [(name, bucket, float(cost)) for name, bucket, cost in pairs if bucket is not None]


@attrs.frozen
class Grant:
    """A backend's answer: start after ``wait`` seconds, or (not granted) nothing
    was taken because the wait would be ``wait`` seconds, more than allowed."""

    wait: float
    granted: bool = True


class LimiterBackend(Protocol):
    """Shared bucket state. Every method is atomic with respect to the others
    and raises ``LimiterUnavailable`` when its store cannot be reached. A backend
    with an async ``close()`` is closed with the middleware that uses it."""

    async def acquire(
        self, limits: Limits, requests: int, tokens: int, max_wait: float | None = None
    ) -> Grant:
        """Reserve ``requests`` and ``tokens`` for a call and say when it may start.

        A wait of ``max_wait`` seconds or more (None: any wait is fine) takes
        nothing and returns ``Grant(wait, granted=False)``.
        """

    async def reconcile(self, limits: Limits, tokens_delta: int) -> None:
        """Correct an estimate: the call used ``tokens_delta`` more tokens (or fewer)."""

    async def hold(self, seconds: float) -> None:
        """Start no call for ``seconds`` from now (the server's limit is spent)."""

    async def available(self, limits: Limits) -> dict[str, float]:
        """Tokens in each bucket now, by name ("requests", "tokens"); for observing."""
