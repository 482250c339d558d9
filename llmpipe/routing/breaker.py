"""A circuit breaker per deployment: passive outlier detection.

Closed, it counts consecutive failures (connection errors, timeouts, 5xx,
429); at ``failures`` in a row it opens, and the router sends elsewhere. A
429 that says how long to wait (``Retry-After``, ``retry-after-ms``) opens it
at once, for exactly that long (capped): the deployment asked for a pause.
Once the cooldown has passed, one request is let through (half-open); its
success closes the breaker, its failure opens it for another cooldown. So a
dead deployment sees at most one request per cooldown.

The breaker is a pure state machine: every method takes the loop time
``now`` and returns whether the state changed, and the router does the
logging, the waiting and the sharing (see ``llmpipe.routing.shared``).
"""

from __future__ import annotations

import enum

import attrs

__all__ = ["BreakerPolicy", "BreakerState", "CircuitBreaker"]


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"BreakerPolicy.{attribute.name} must be a number > 0, got {value!r}")


def _count(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or value < 1:
        raise ValueError(f"BreakerPolicy.{attribute.name} must be an integer >= 1, got {value!r}")


@attrs.frozen(kw_only=True)
class BreakerPolicy:
    """When a breaker opens and for how long.

    ``failures`` in a row open it for ``cooldown`` seconds; with
    ``honour_retry_after``, a 429's own wait of ``min_retry_after`` seconds or
    more opens it at once, for that long but at most ``max_cooldown``.
    """

    failures: int = attrs.field(default=5, validator=_count)
    cooldown: float = attrs.field(default=5.0, validator=_positive)
    max_cooldown: float = attrs.field(default=300.0, validator=_positive)
    honour_retry_after: bool = True
    min_retry_after: float = attrs.field(default=1.0, validator=attrs.validators.ge(0.0))
    """A shorter wait is a load signal (an adaptive limit's business), counted
    as one failure rather than a pause for the whole deployment."""


class CircuitBreaker:
    """One deployment's breaker; ``open_until`` is a loop time."""

    __slots__ = ("_failures", "open_until", "policy", "state")

    def __init__(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self.state = BreakerState.CLOSED
        self.open_until = 0.0
        self._failures = 0

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.state.value}, failures={self._failures})"

    @property
    def failures(self) -> int:
        """Consecutive failures counted so far."""
        return self._failures

    def available(self, now: float) -> bool:
        """Whether a request may go now: closed, or open with the cooldown over."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        return state is BreakerState.OPEN and now >= self.open_until

    def probing(self, now: float) -> bool:
        """Whether the next request sent would be the half-open probe."""
        return self.state is BreakerState.OPEN and now >= self.open_until

    def admit(self, now: float) -> bool:
        """A request is being sent; True if it is the probe (the state turns half-open)."""
        if self.probing(now):
            self.state = BreakerState.HALF_OPEN
            return True
        return False

    def success(self) -> bool:
        """The deployment answered (whatever the caller's mistakes); True if it closed.

        A reply that started before the breaker opened does not close it: the
        probe decides.
        """
        self._failures = 0
        if self.state is BreakerState.HALF_OPEN:
            self.state = BreakerState.CLOSED
            return True
        return False

    def failure(self, now: float, retry_after: float | None = None) -> bool:
        """A failure the deployment is to blame for; True if this opened the breaker."""
        self._failures += 1
        policy = self.policy
        if (
            retry_after is not None
            and retry_after > 0
            and retry_after >= policy.min_retry_after
            and policy.honour_retry_after
        ):
            return self.trip(now, min(retry_after, policy.max_cooldown))
        if self.state is BreakerState.HALF_OPEN or (
            self.state is BreakerState.CLOSED and self._failures >= policy.failures
        ):
            return self.trip(now, policy.cooldown)
        return False

    def trip(self, now: float, seconds: float) -> bool:
        """Open for ``seconds`` from ``now`` (never shortening a longer opening)."""
        was_open = self.state is BreakerState.OPEN and self.open_until > now
        self.state = BreakerState.OPEN
        self.open_until = max(self.open_until if was_open else now, now + seconds)
        return not was_open

    def reset(self) -> bool:
        """Close, whatever the state (another process saw the deployment recover)."""
        changed = self.state is not BreakerState.CLOSED
        self.state = BreakerState.CLOSED
        self._failures = 0
        return changed

    def abandon(self, now: float) -> None:
        """The probe was cancelled before an answer: let the next request probe."""
        if self.state is BreakerState.HALF_OPEN:
            self.state = BreakerState.OPEN
            self.open_until = now
