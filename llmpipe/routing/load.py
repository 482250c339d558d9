"""Peak-EWMA: how slow a deployment looks now, as tower's balancer reckons it.

An exponentially weighted moving average of latencies that jumps at once to
any sample slower than itself (the peak) and forgets it at the pace of
``decay`` seconds. A replica that turns slow is avoided from its first slow
reply; one that recovers wins traffic back gradually. While nothing is
observed the estimate decays toward zero, so an idle or shunned replica is
tried again now and then, which is how the balancer learns it got better.
"""

from __future__ import annotations

import math

__all__ = ["PeakEwma"]


class PeakEwma:
    """A latency estimate in seconds, read and updated at loop times ``now``.

    Until its first sample it reads ``initial``; the first sample replaces it.
    """

    __slots__ = ("_decay", "_estimate", "_measured", "_updated")

    def __init__(self, initial: float = 0.1, decay: float = 10.0, now: float = 0.0) -> None:
        if not (initial > 0 and decay > 0):
            raise ValueError(
                f"PeakEwma needs initial > 0 and decay > 0 seconds, got {initial!r}, {decay!r}"
            )
        self._estimate = initial
        self._decay = decay
        self._updated = now
        self._measured = False

    def __repr__(self) -> str:
        return f"PeakEwma({self._estimate:.4g} s at {self._updated:.3f})"

    def estimate(self, now: float) -> float:
        """The estimate at ``now``, decayed for the time since the last sample."""
        if not self._measured:
            return self._estimate
        idle = now - self._updated
        if idle <= 0:
            return self._estimate
        return self._estimate * math.exp(-idle / self._decay)

    def observe(self, seconds: float, now: float) -> None:
        """Fold in one latency: the peak at once, else a time-weighted average."""
        if not self._measured:
            self.reset(seconds, now)
            return
        current = self.estimate(now)
        if seconds >= current:
            self._estimate = seconds
        else:
            weight = math.exp(-max(0.0, now - self._updated) / self._decay)
            self._estimate = current * weight + seconds * (1.0 - weight)
        self._updated = now

    def reset(self, seconds: float, now: float) -> None:
        """Start afresh from one sample (a deployment back from an outage)."""
        self._estimate = seconds
        self._updated = now
        self._measured = True

    def penalize(self, now: float, factor: float = 2.0, floor: float = 1.0) -> None:
        """A failure: it looks ``factor`` times slower, and at least ``floor`` s,
        but never more than ``factor`` x ``floor`` above that (failures in a
        burst do not compound without end).

        A deployment that fails fast (refused connections) must not look like
        the fastest one; the breaker removes it only after several failures.
        """
        current = self.estimate(now) if self._measured else 0.0
        penalty = min(max(current * factor, floor), max(current, floor * factor))
        self._estimate = max(current, penalty)
        self._updated = now
        self._measured = True
