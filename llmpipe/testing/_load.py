"""What the test server does before a request reaches its handler proper:
the capacity gate and the latency profile.

Requests beyond `capacity` in flight are refused at once with a 429 that
says when to come back (`Retry-After` in whole seconds and `retry-after-ms`,
as OpenAI sends them), the way a proxy's concurrency limit or an overloaded
provider answers. The others wait out their latency, then are handled.
A stream is in flight until its last byte is sent.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Awaitable, Callable

from aiohttp import web

from ._api_error import ApiError
from ._events import Pause
from ._replies import drop, error_reply
from .latency import Latency

__all__ = ["Load"]

Respond = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class Load:
    """In-flight requests, refusals beyond capacity, and latency before answering."""

    def __init__(self, latency: Latency | None, capacity: int | None, retry_after: float) -> None:
        if capacity is not None and (type(capacity) is not int or capacity < 1):
            raise ValueError(f"capacity must be None or an integer >= 1, got {capacity!r}")
        if not retry_after >= 0:
            raise ValueError(f"capacity_retry_after must be >= 0 seconds, got {retry_after!r}")
        self.latency = latency
        self.capacity = capacity
        self._retry_after = retry_after
        self._lock = threading.Lock()  # counters are read from the tests' threads
        self._in_flight = 0
        self._arrivals = 0
        self._refused = 0
        self._peak = 0

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    @property
    def refused(self) -> int:
        """Requests refused with 429 for being beyond capacity."""
        with self._lock:
            return self._refused

    @property
    def peak(self) -> int:
        """The most requests that were in flight at once."""
        with self._lock:
            return self._peak

    async def handle(
        self, request: web.BaseRequest, respond: Respond, pause: Pause
    ) -> web.StreamResponse:
        with self._lock:
            if self.capacity is not None and self._in_flight >= self.capacity:
                self._refused += 1
                return self._refusal()
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
            self._arrivals += 1
            number, in_flight = self._arrivals, self._in_flight
        try:
            if self.latency is not None:
                await request.read()  # as a real server does first (the handler rereads it)
                seconds = self.latency.sample(number, in_flight)
                if seconds > 0 and not await pause(seconds):
                    return drop(request)  # the server is stopping: do not keep it waiting
            return await respond(request)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _refusal(self) -> web.Response:
        error = ApiError(
            429,
            f"Too many concurrent requests: this server takes {self.capacity} at once.",
            type="requests",
            code="rate_limit_exceeded",
        )
        reply = error_reply(error)
        reply.headers["Retry-After"] = str(max(1, math.ceil(self._retry_after)))
        reply.headers["retry-after-ms"] = str(round(self._retry_after * 1000))
        return reply
