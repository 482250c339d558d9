"""How long the test server takes to answer: latency profiles, sampled per request.

A real deployment's latency is a distribution, and the tail is what routing
is for: `Latency.fixed`, `Latency.lognormal` (the usual shape of service
times) and `Latency.long_tail` (a share of requests some times slower than
the rest: a replica garbage-collecting, a request stuck behind a long
prompt). Request n's latency depends only on the seed and n, so a run is
reproducible whatever the timing; give the servers of a fleet different
seeds so their slow requests do not line up.

`batch` models a GPU server's batching: up to `batch` requests run at full
speed together; with more in flight, each new one is slowed in proportion
(n in flight: n / batch times its latency).

`per_event` paces a stream after its first event, as generation does: each
later event (and the closing `[DONE]`) comes that many seconds after the one
before. The sampled latency is then the time to the first event only, where
queueing and prefill put a slow request's delay.
"""

from __future__ import annotations

import math
import random

import attrs

__all__ = ["Latency"]


def _seconds(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"Latency.{attribute.name} must be a number >= 0, got {value!r}")


@attrs.frozen
class Latency:
    """Seconds before the server answers (for a stream: before its headers and
    first event). Build one with the classmethods."""

    median: float = attrs.field(validator=_seconds)
    sigma: float = attrs.field(default=0.0, validator=_seconds)
    slow_share: float = attrs.field(
        default=0.0, validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)]
    )
    slow_factor: float = attrs.field(default=1.0, validator=attrs.validators.ge(1.0))
    seed: int = 0
    batch: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1))
    )
    per_event: float = attrs.field(default=0.0, validator=_seconds)

    @classmethod
    def fixed(cls, seconds: float, *, batch: int | None = None) -> Latency:
        """Always ``seconds``."""
        return cls(seconds, batch=batch)

    @classmethod
    def lognormal(
        cls, median: float, sigma: float = 0.5, *, seed: int = 0, batch: int | None = None
    ) -> Latency:
        """Lognormal around ``median``; ``sigma`` is the spread of its logarithm."""
        return cls(median, sigma, seed=seed, batch=batch)

    @classmethod
    def long_tail(
        cls,
        median: float,
        slow_share: float = 0.05,
        slow_factor: float = 20.0,
        *,
        sigma: float = 0.0,
        seed: int = 0,
        batch: int | None = None,
    ) -> Latency:
        """``slow_share`` of requests take ``slow_factor`` times longer than the rest,
        which are lognormal around ``median`` (fixed with ``sigma=0``)."""
        return cls(median, sigma, slow_share, slow_factor, seed, batch)

    def sample(self, number: int, in_flight: int = 1) -> float:
        """Request ``number``'s latency with ``in_flight`` requests (itself included) out."""
        rng = random.Random(f"{self.seed}/{number}")  # noqa: S311 - a test server
        seconds = self.median
        if self.sigma:
            seconds *= math.exp(rng.gauss(0.0, self.sigma))
        if self.slow_share and rng.random() < self.slow_share:
            seconds *= self.slow_factor
        if self.batch is not None and in_flight > self.batch:
            seconds *= in_flight / self.batch
        return seconds
