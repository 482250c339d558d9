"""Token-bucket maths, pure, so it can be tested with a fake clock.

A bucket holds at most ``capacity`` tokens and refills at ``rate`` tokens per
second. Its whole state is one number, ``full_at``: the moment the bucket
will be full again (the "theoretical arrival time" of GCRA). One number is
what makes the bucket cheap to keep in Redis and to update atomically there.

- the level at ``now`` is ``capacity - max(0, full_at - now) * rate``;
- a call costing ``n`` may start once the level reaches ``min(n, capacity)``:
  a call larger than the bucket waits for a full bucket and leaves it in debt,
  rather than waiting forever;
- calls *reserve* their start: taking ``n`` at ``at`` moves ``full_at`` to
  ``max(full_at, at) + n / rate``, so the next caller queues behind this one
  without polling, and callers start in the order they asked.

``llmpipe.middleware.ratelimit.redis_limiter`` repeats these few lines in Lua; change
both together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import attrs

__all__ = ["Bucket", "TokenBucket", "start_time"]

Clock = Callable[[], float]


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"Bucket.{attribute.name} must be > 0, got {value!r}")


@attrs.frozen
class Bucket:
    """The shape of a bucket: ``rate`` tokens per second, at most ``capacity``."""

    rate: float = attrs.field(validator=_positive)
    capacity: float = attrs.field(validator=_positive)

    @classmethod
    def per_minute(cls, amount: float, burst: float | None = None) -> Bucket:
        """``amount`` per minute, holding ``burst`` at most (default: one second's worth)."""
        rate = amount / 60
        return cls(rate, rate if burst is None else burst)

    def level(self, full_at: float, now: float) -> float:
        """Tokens available at ``now`` (negative while the bucket is in debt)."""
        return self.capacity - max(0.0, full_at - now) * self.rate

    def ready_at(self, full_at: float, cost: float) -> float:
        """The earliest moment a call costing ``cost`` may start."""
        return full_at - (self.capacity - min(cost, self.capacity)) / self.rate

    def wait(self, full_at: float, now: float, cost: float) -> float:
        """Seconds from ``now`` until ``cost`` tokens may be taken."""
        return max(0.0, self.ready_at(full_at, cost) - now)

    def take(self, full_at: float, at: float, cost: float) -> float:
        """The new ``full_at`` after taking ``cost`` at ``at``; a negative cost gives back."""
        return max(full_at, at) + cost / self.rate


def start_time(
    now: float, hold_until: float, demands: Iterable[tuple[Bucket, float, float]]
) -> float:
    """When a call may start that needs every ``(bucket, full_at, cost)`` at once.

    Never before ``now`` nor before ``hold_until`` (a pause the server asked for).
    """
    return max([now, hold_until, *(b.ready_at(full_at, cost) for b, full_at, cost in demands)])


class TokenBucket:
    """One bucket with its state and a clock: the single-bucket, in-process form."""

    def __init__(self, bucket: Bucket, clock: Clock = time.monotonic) -> None:
        self.bucket = bucket
        self._clock = clock
        self.full_at = clock()

    def __repr__(self) -> str:
        return f"TokenBucket({self.bucket!r}, available={self.available():.3f})"

    def available(self) -> float:
        return self.bucket.level(self.full_at, self._clock())

    def wait_for(self, cost: float) -> float:
        """Seconds until ``cost`` tokens may be taken (0 if now)."""
        return self.bucket.wait(self.full_at, self._clock(), cost)

    def take(self, cost: float) -> float:
        """Reserve ``cost`` tokens; the seconds to wait before using them."""
        now = self._clock()
        start = max(now, self.bucket.ready_at(self.full_at, cost))
        self.full_at = self.bucket.take(self.full_at, start, cost)
        return start - now

    def adjust(self, delta: float) -> None:
        """Take ``delta`` more tokens (or give ``-delta`` back), without waiting."""
        self.full_at = self.bucket.take(self.full_at, self._clock(), delta)
