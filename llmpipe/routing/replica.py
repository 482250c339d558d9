"""One deployment at run time: its pool, pipeline, load, breaker and limit.

The router owns one ``Replica`` per deployment of an alias; the balancer
reads its load, the breaker and the limit say whether it may be sent to.
A request is outstanding from when it is sent until its reply is in, or,
for a stream, until the stream ends (a stream dropped unread is let go
when it is collected).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable
from typing import Any

import attrs

from llmpipe.pipeline import Pipeline
from llmpipe.request import LLMRequest
from llmpipe.routing.breaker import BreakerState, CircuitBreaker
from llmpipe.routing.limit import ConcurrencyLimit
from llmpipe.routing.load import PeakEwma
from llmpipe.streaming.events import StreamSummary
from llmpipe.streaming.sse import ServerSentEvent
from llmpipe.transport.base import Transport

__all__ = ["Replica", "ReplicaStats"]


@attrs.frozen
class ReplicaStats:
    """A snapshot of one deployment, for dashboards and tests."""

    name: str
    alias: str
    state: BreakerState
    in_flight: int
    limit: int | None
    latency: float
    """The peak-EWMA latency estimate, in seconds."""
    requests: int
    failures: int
    hedges: int
    """Hedge requests sent to this deployment."""
    probes: int
    """Requests sent while its breaker was half-open."""


class Replica:
    """A deployment as the router runs it."""

    __slots__ = (
        "__weakref__",
        "alias",
        "breaker",
        "failures",
        "hedges",
        "in_flight",
        "limit",
        "load",
        "max_in_flight",
        "model",
        "name",
        "pipeline",
        "probes",
        "requests",
        "transport",
        "wake",
        "weight",
    )

    def __init__(
        self,
        *,
        name: str,
        alias: str,
        model: str | None,
        weight: float,
        transport: Transport,
        pipeline: Pipeline,
        breaker: CircuitBreaker,
        limit: ConcurrencyLimit | None,
        max_in_flight: int | None,
        load: PeakEwma,
        wake: Callable[[], None],
    ) -> None:
        self.name = name
        self.alias = alias
        self.model = model
        self.weight = weight
        self.transport = transport
        self.pipeline = pipeline
        self.breaker = breaker
        self.limit = limit
        self.max_in_flight = max_in_flight
        self.load = load
        self.wake = wake
        self.in_flight = 0
        self.requests = 0
        self.failures = 0
        self.hedges = 0
        self.probes = 0

    def __repr__(self) -> str:
        return f"Replica({self.name!r}, {self.breaker.state.value}, in_flight={self.in_flight})"

    def has_room(self) -> bool:
        """Whether one more request fits under its limits."""
        limit, cap = self.limit, self.max_in_flight
        if limit is None and cap is None:
            return True
        in_flight = self.in_flight
        if cap is not None and in_flight >= cap:
            return False
        return limit is None or in_flight < limit.limit

    def routed(self, request: LLMRequest) -> LLMRequest:
        """``request`` as this deployment takes it: its own model name in the body."""
        body = request.body
        model = self.model
        if model is None or body is None or body.get("model") == model:
            return request
        return attrs.evolve(request, body={**body, "model": model})

    def sent(self) -> None:
        self.in_flight += 1
        self.requests += 1

    def done(self) -> None:
        """The request is no longer outstanding: a queued call may go."""
        self.in_flight -= 1
        self.wake()

    def watch(self, stream: Any) -> None:
        """Outstanding until ``stream`` ends (or is collected unended)."""
        hold = _StreamHold(self)
        stream.observe(hold)
        hold.finalizer = weakref.finalize(
            stream, _let_go_from_anywhere, asyncio.get_running_loop(), hold
        )
        hold.finalizer.atexit = False

    def stats(self, now: float) -> ReplicaStats:
        return ReplicaStats(
            name=self.name,
            alias=self.alias,
            state=self.breaker.state,
            in_flight=self.in_flight,
            limit=None if self.limit is None else self.limit.limit,
            latency=self.load.estimate(now),
            requests=self.requests,
            failures=self.failures,
            hedges=self.hedges,
            probes=self.probes,
        )


class _StreamHold:
    """A stream's hold on its replica: let go once, when the stream ends."""

    __slots__ = ("finalizer", "replica")

    def __init__(self, replica: Replica) -> None:
        self.replica: Replica | None = replica
        self.finalizer: weakref.finalize[..., object] | None = None

    def on_event(self, event: ServerSentEvent) -> None:
        pass

    def on_end(self, summary: StreamSummary) -> None:
        self.let_go()

    def let_go(self) -> None:
        replica, self.replica = self.replica, None
        if replica is None:
            return
        if self.finalizer is not None:
            self.finalizer.detach()
        replica.done()


def _let_go_from_anywhere(loop: asyncio.AbstractEventLoop, hold: _StreamHold) -> None:
    """The collector may run on any thread; the replica belongs to the loop's."""
    with contextlib.suppress(RuntimeError):  # the loop is closed: nothing waits any more
        loop.call_soon_threadsafe(hold.let_go)
