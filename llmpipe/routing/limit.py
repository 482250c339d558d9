"""Adaptive concurrency: how many requests one deployment may have in flight.

A fixed limit is wrong twice: too low wastes a server that could take more,
too high turns its overload into 429s and queueing. Here the limit is
learnt from each reply, as Netflix's concurrency-limits and Envoy's adaptive
concurrency filter do:

- ``Aimd``: additive increase (+1 per limit's worth of good replies, about
  one per round trip, while the limit is in use), multiplicative decrease on
  a drop (a 429, a timeout, a reply slower than ``timeout``). A drop also
  marks a ceiling: the limit climbs back to just below it and holds there
  for ``probe_after`` good replies before trying above it, as TCP CUBIC
  plateaus near its last loss; so a hard capacity costs about one 429 per
  ``probe_after`` replies rather than one per climb. A drop of a request
  sent when the limit was higher (more in flight than the limit now) is
  stale and ignored: one decrease per overload, not one per refused request.
- ``Gradient``: the limit follows the ratio of the long-run latency to the
  latest one (Netflix's gradient2): it grows while latency holds and
  shrinks as soon as latency rises, before anything is refused; for a
  server that queues. A drop backs it off and marks a ceiling as for AIMD.

Both are frozen settings whose ``start()`` makes the state of one
deployment. The server's ``x-ratelimit-*`` headers (OpenAI, Azure, a LiteLLM
proxy send them) seed and cap it:

- seeded, once, by the first reply that carries ``x-ratelimit-limit-requests``:
  a request rate of ``limit / window`` sustains ``rate * latency`` requests
  in flight (Little's law), so the limit starts at that (rounded up, within
  ``min_limit``..``max_limit``) rather than at ``initial``, which may be
  far too low for a big quota (climbing +1 per round trip to 300 takes
  minutes) or too high for a small one (429s from the start). The window is
  what ``x-ratelimit-reset-requests`` implies (the time to refill the
  ``limit - remaining`` used: ``reset * limit / (limit - remaining)``), else
  a minute, the window those headers count in;
- capped, on every reply, by ``x-ratelimit-remaining-requests`` while the
  server says fewer remain than the limit.

The router queues calls that find no deployment with room, each until its deadline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol

import attrs

from llmpipe.middleware.ratelimit.headers import ServerLimits

__all__ = ["Aimd", "ConcurrencyLimit", "Gradient", "LimitPolicy"]


class ConcurrencyLimit(Protocol):
    """One deployment's limit, updated with every reply."""

    @property
    def limit(self) -> int:
        """Requests that may be in flight now (at least 1)."""

    def update(self, seconds: float, in_flight: int, dropped: bool) -> None:
        """A reply took ``seconds`` with ``in_flight`` requests out (itself included);
        ``dropped``: it was refused (429) or timed out."""

    def read_headers(self, headers: Mapping[str, str], seconds: float) -> None:
        """What the server says of its own limits, on a reply that took ``seconds``."""


class LimitPolicy(Protocol):
    def start(self) -> ConcurrencyLimit:
        """A fresh limit for one deployment."""


def _check_bounds(initial: int, low: int, high: int) -> None:
    if not (type(initial) is int and type(low) is int and type(high) is int):
        raise ValueError("initial, min_limit and max_limit must be integers")
    if not 1 <= low <= initial <= high:
        raise ValueError(
            f"limits need 1 <= min_limit <= initial <= max_limit, got {low}, {initial}, {high}"
        )


class _Bounded:
    """The shared part: a float limit kept in bounds, the ceiling a drop found,
    and the headers' cap."""

    __slots__ = ("_ceiling", "_held", "_high", "_low", "_probe_after", "seeded", "value")

    def __init__(self, initial: int, low: int, high: int, probe_after: int) -> None:
        self.value = float(initial)
        self._low = low
        self._high = high
        self._probe_after = probe_after
        self._ceiling: int | None = None
        self._held = 0
        self.seeded = False
        """Whether the headers have set the limit yet (see the module docstring)."""

    @property
    def limit(self) -> int:
        return int(self.value)

    def clamp(self, value: float) -> None:
        self.value = min(float(self._high), max(float(self._low), value))

    def drop(self, in_flight: int, backoff: float) -> None:
        """A refusal or a timeout: back off, and remember where it happened."""
        if in_flight > self.limit:
            return  # sent before the last decrease: that overload is answered already
        self._ceiling = self.limit
        self._held = 0
        self.clamp(math.floor(self.value * backoff))

    def grow(self, target: float) -> None:
        """Move to ``target``, but hold just below a ceiling a drop found until
        ``probe_after`` good replies have come at that height."""
        ceiling = self._ceiling
        if ceiling is not None and target >= ceiling:
            if self._held < self._probe_after:
                self._held += 1
                target = min(target, ceiling - 0.001)
            else:
                self._ceiling = None  # probed: learn the capacity again
        self.clamp(target)

    def read_headers(self, headers: Mapping[str, str], seconds: float) -> None:
        if _REMAINING not in headers and (self.seeded or _LIMIT not in headers):
            return  # most replies: nothing said, or nothing new to learn
        said = ServerLimits.from_headers(headers)
        if not self.seeded and said.limit_requests is not None:
            seed = sustained(said, seconds)
            if seed is not None:
                self.seeded = True
                self.clamp(float(seed))
        remaining = said.remaining_requests
        if remaining is not None and remaining < self.value:
            self.clamp(float(remaining))


_LIMIT = "x-ratelimit-limit-requests"
_REMAINING = "x-ratelimit-remaining-requests"
_HEADERS_WINDOW = 60.0
"""Seconds the request limit counts in when the headers do not imply it
(OpenAI's, Azure's and LiteLLM's are requests per minute)."""


def sustained(said: ServerLimits, seconds: float) -> int | None:
    """The requests in flight the server's request rate sustains at ``seconds``
    per reply (Little's law), rounded up; None when the limit is unusable."""
    limit = said.limit_requests
    if limit is None or limit <= 0 or not seconds > 0:
        return None
    window = _HEADERS_WINDOW
    used = None if said.remaining_requests is None else limit - said.remaining_requests
    if used is not None and used > 0 and said.reset_requests:
        window = said.reset_requests * limit / used  # the time to refill all of it
    return max(1, math.ceil(limit / window * seconds))


def _fraction(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0 < value < 1:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value!r}")


@attrs.frozen(kw_only=True)
class Aimd:
    """Additive increase, multiplicative decrease, with a remembered ceiling."""

    initial: int = 8
    min_limit: int = 1
    max_limit: int = 1000
    backoff: float = attrs.field(default=0.9, validator=_fraction)
    timeout: float | None = None
    """A reply slower than this counts as a drop."""
    probe_after: int = attrs.field(default=100, validator=attrs.validators.ge(1))

    def __attrs_post_init__(self) -> None:
        _check_bounds(self.initial, self.min_limit, self.max_limit)

    def start(self) -> ConcurrencyLimit:
        return _AimdLimit(self)


class _AimdLimit(_Bounded):
    __slots__ = ("_policy",)

    def __init__(self, policy: Aimd) -> None:
        super().__init__(policy.initial, policy.min_limit, policy.max_limit, policy.probe_after)
        self._policy = policy

    def __repr__(self) -> str:
        return f"Aimd(limit={self.limit}, ceiling={self._ceiling})"

    def update(self, seconds: float, in_flight: int, dropped: bool) -> None:
        policy = self._policy
        if dropped or (policy.timeout is not None and seconds > policy.timeout):
            self.drop(in_flight, policy.backoff)
        elif in_flight * 2 >= self.value:  # else the limit is not what holds traffic back
            self.grow(self.value + 1.0 / self.value)


@attrs.frozen(kw_only=True)
class Gradient:
    """The limit scaled by long-run latency / latest latency (Netflix's gradient2)."""

    initial: int = 8
    min_limit: int = 1
    max_limit: int = 1000
    tolerance: float = attrs.field(default=1.5, validator=attrs.validators.ge(1.0))
    """How much slower than the long-run latency still counts as holding."""
    smoothing: float = attrs.field(default=0.2, validator=_fraction)
    long_window: int = attrs.field(default=600, validator=attrs.validators.ge(2))
    backoff: float = attrs.field(default=0.9, validator=_fraction)
    probe_after: int = attrs.field(default=100, validator=attrs.validators.ge(1))

    def __attrs_post_init__(self) -> None:
        _check_bounds(self.initial, self.min_limit, self.max_limit)

    def start(self) -> ConcurrencyLimit:
        return _GradientLimit(self)


class _GradientLimit(_Bounded):
    __slots__ = ("_long", "_policy")

    def __init__(self, policy: Gradient) -> None:
        super().__init__(policy.initial, policy.min_limit, policy.max_limit, policy.probe_after)
        self._policy = policy
        self._long: float | None = None

    def __repr__(self) -> str:
        return f"Gradient(limit={self.limit}, long_rtt={self._long})"

    def update(self, seconds: float, in_flight: int, dropped: bool) -> None:
        policy = self._policy
        if dropped:
            self.drop(in_flight, policy.backoff)
            return
        seconds = max(seconds, 1e-6)
        long = self._long
        if long is None:
            self._long = long = seconds
        else:
            long += (seconds - long) * 2.0 / (policy.long_window + 1)
            if long / seconds > 2.0:  # latency fell for good: forget the old, slower normal
                long *= 0.95
            self._long = long
        gradient = max(0.5, min(1.0, policy.tolerance * long / seconds))
        target = self.value * gradient + math.sqrt(self.value)
        if in_flight * 2 < self.value:
            target = min(target, self.value)  # not using the limit: do not raise it
        self.grow(self.value * (1 - policy.smoothing) + target * policy.smoothing)
