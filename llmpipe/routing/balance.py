"""Choosing a deployment for one request, among those healthy and with room.

Three balancers, each a small object with ``choose(candidates, now)``:

- ``PowerOfTwoChoices`` (the default): pick two at random and send to the
  cheaper, where cost is the peak-EWMA latency times (requests outstanding
  + 1), divided by the weight, as tower's ``p2c`` over ``PeakEwma`` does.
  Two random picks avoid the herding of "always the least loaded" (every
  client rushing to the same replica) at almost its benefit; a slow replica
  keeps some traffic, so its recovery is seen.
- ``RoundRobin``: each in turn; weights ignored.
- ``WeightedRandom``: at random, in proportion to the weights.

Candidates are never empty; the router has filtered out open breakers and
full deployments.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol, TypeVar

from llmpipe.routing.load import PeakEwma

__all__ = ["Balancer", "Candidate", "PowerOfTwoChoices", "RoundRobin", "WeightedRandom"]


class Candidate(Protocol):
    """What a balancer reads of a deployment."""

    @property
    def weight(self) -> float: ...

    @property
    def in_flight(self) -> int: ...

    @property
    def load(self) -> PeakEwma: ...


C = TypeVar("C", bound=Candidate)


class Balancer(Protocol):
    def choose(self, candidates: Sequence[C], now: float) -> C:
        """One of ``candidates`` (never empty) for the next request."""


def cost(candidate: Candidate, now: float) -> float:
    """Expected wait on ``candidate``: latency x (outstanding + 1) / weight."""
    return candidate.load.estimate(now) * (candidate.in_flight + 1) / candidate.weight


class PowerOfTwoChoices:
    """Two at random, the cheaper of the two (peak-EWMA x outstanding / weight)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - balancing

    def __repr__(self) -> str:
        return "PowerOfTwoChoices()"

    def choose(self, candidates: Sequence[C], now: float) -> C:
        count = len(candidates)
        if count == 1:
            return candidates[0]
        rng = self._rng
        first = int(rng.random() * count)
        second = int(rng.random() * (count - 1))
        if second >= first:
            second += 1
        a, b = candidates[first], candidates[second]
        return a if cost(a, now) <= cost(b, now) else b


class RoundRobin:
    """Each candidate in turn (over whichever are candidates at the time)."""

    def __init__(self) -> None:
        self._turn = 0

    def __repr__(self) -> str:
        return "RoundRobin()"

    def choose(self, candidates: Sequence[C], now: float) -> C:
        self._turn += 1
        return candidates[self._turn % len(candidates)]


class WeightedRandom:
    """At random, in proportion to each candidate's weight."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - balancing

    def __repr__(self) -> str:
        return "WeightedRandom()"

    def choose(self, candidates: Sequence[C], now: float) -> C:
        if len(candidates) == 1:
            return candidates[0]
        return self._rng.choices(candidates, weights=[c.weight for c in candidates])[0]
