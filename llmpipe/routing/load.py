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

__all__ = ["PeakEwma", "Prior"]


class Prior:
    """What the deployments of one alias took lately: the guess for one not yet
    measured, so a new deployment is neither shunned nor flooded."""

    __slots__ = ("value",)

    def __init__(self, value: float = 0.1) -> None:
        self.value = value


class PeakEwma:
    """A latency estimate in seconds, read and updated at loop times ``now``.

    Until its first sample it reads the ``prior`` (shared by an alias's
    deployments); the first sample replaces it, and every sample updates it.
    """

    __slots__ = ("_decay", "_estimate", "_measured", "_prior", "_updated")

    def __init__(self, prior: Prior | None = None, decay: float = 10.0, now: float = 0.0) -> None:
        if not decay > 0:
            raise ValueError(f"PeakEwma needs decay > 0 seconds, got {decay!r}")
        self._prior = prior if prior is not None else Prior()
        self._estimate = 0.0
        self._decay = decay
        self._updated = now
        self._measured = False

    def __repr__(self) -> str:
        return f"PeakEwma({self._estimate:.4g} s at {self._updated:.3f})"

    def estimate(self, now: float) -> float:
        """The estimate at ``now``, decayed for the time since the last sample."""
        if not self._measured:
            return self._prior.value
        idle = now - self._updated
        if idle <= 0:
            return self._estimate
        return self._estimate * math.exp(-idle / self._decay)

    def observe(self, seconds: float, now: float) -> None:
        """Fold in one latency: the peak at once, else a time-weighted average."""
        self._prior.value = seconds
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
        self._prior.value = seconds
        self._estimate = seconds
        self._updated = now
        self._measured = True
