"""Hedging: when a reply is late, ask a second deployment too; the first wins.

Most slow replies are slow because of where they went (a replica that is
garbage-collecting, queueing behind a long prompt), not because of what they
ask, so the same request sent elsewhere usually comes back at normal speed.
After ``delay`` seconds (fixed, or the ``percentile`` of the alias's recent
latencies: by default only the slowest 5 % are hedged) the router sends the
same request, with the same ``Idempotency-Key``, to another deployment; the
first good reply wins (for a stream: the first *event*) and the other is
cancelled, its connection closed at once.

A hedge budget bounds the cost: hedges may add at most ``max_extra`` of the
calls made (10 % by default) over a sliding window, as a ``RetryBudget``
does for retries, so a slowdown everywhere does not double the load.
"""

from __future__ import annotations

import collections
import math

import attrs

from llmpipe.middleware.retry.budget import RetryBudget

__all__ = ["Hedger", "Hedging", "LatencyWindow"]


def _fraction(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"Hedging.{attribute.name} must be between 0 and 1, got {value!r}")


def _optional_delay(_: object, __: object, value: float | None) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0
    ):
        raise ValueError(f"Hedging.delay must be None or seconds >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class Hedging:
    """When to hedge, and how much hedging may cost.

    ``delay``: seconds before the hedge; None (default) uses ``percentile``
    of the last ``window`` latencies of the alias (time to first event for
    streams, kept apart from plain calls), once ``min_samples`` are known.
    ``max_extra``: hedges as a share of calls; ``min_per_second`` hedges
    per second are allowed whatever the share (a quiet client may hedge).
    """

    delay: float | None = attrs.field(default=None, validator=_optional_delay)
    percentile: float = attrs.field(default=0.95, validator=_fraction)
    min_samples: int = attrs.field(default=20, validator=attrs.validators.ge(1))
    window: int = attrs.field(default=1000, validator=attrs.validators.ge(10))
    max_extra: float = attrs.field(default=0.1, validator=_fraction)
    min_per_second: float = attrs.field(default=0.1, validator=attrs.validators.ge(0.0))
    streams: bool = True
    """Hedge streams too (by their time to first event)."""


class LatencyWindow:
    """The last ``size`` latencies; a percentile of them, recomputed every
    ``size // 20`` samples rather than on every read."""

    __slots__ = ("_every", "_percentile", "_samples", "_since", "_value")

    def __init__(self, size: int, percentile: float) -> None:
        self._samples: collections.deque[float] = collections.deque(maxlen=size)
        self._percentile = percentile
        self._every = max(1, size // 20)
        self._since = 0
        self._value: float | None = None

    def __len__(self) -> int:
        return len(self._samples)

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)
        self._since += 1
        if self._value is None or self._since >= self._every:
            self._value = None

    def value(self) -> float | None:
        """The percentile (nearest rank) of the samples, None if there are none."""
        if self._value is None and self._samples:
            ordered = sorted(self._samples)
            rank = max(0, math.ceil(self._percentile * len(ordered)) - 1)
            self._value = ordered[rank]
            self._since = 0
        return self._value


class Hedger:
    """One alias's hedging state: its latencies and its budget."""

    __slots__ = ("_plain", "_streams", "budget", "policy")

    def __init__(self, policy: Hedging) -> None:
        self.policy = policy
        self.budget = RetryBudget(ratio=policy.max_extra, min_per_second=policy.min_per_second)
        self._plain = LatencyWindow(policy.window, policy.percentile)
        self._streams = LatencyWindow(policy.window, policy.percentile)

    def __repr__(self) -> str:
        return f"Hedger({self.policy!r})"

    def delay(self, stream: bool) -> float | None:
        """Seconds to wait before hedging a call; None: do not hedge it."""
        policy = self.policy
        if stream and not policy.streams:
            return None
        if policy.delay is not None:
            return policy.delay
        window = self._streams if stream else self._plain
        if len(window) < policy.min_samples:
            return None
        return window.value()

    def observe(self, stream: bool, seconds: float) -> None:
        """A good reply's latency (a stream's time to its first event)."""
        (self._streams if stream else self._plain).add(seconds)
