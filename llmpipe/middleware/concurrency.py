"""ConcurrencyLimitMiddleware: at most N calls in flight; the others wait their turn.

A streamed reply is in flight until its stream ends (read to ``[DONE]``,
failed, or closed early), so N streams being read hold all N slots. A stream
dropped without being closed gives its slot back when it is collected.

A call waits for a slot until its deadline at most, then raises
``LLMTimeoutError``, as every deadline in llmpipe does. Unlike a rate
limit's, this wait cannot be known in advance (it ends when some other call
does), so there is nothing to refuse at once; and as the deadline has
passed, the retry layer does not retry it.

Place it inside ``RetryMiddleware`` (a call sleeping out its backoff should
not hold a slot) and outside ``RateLimitMiddleware``.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref

from llmpipe import logs
from llmpipe.errors import LLMTimeoutError
from llmpipe.pipeline import Handler, Middleware
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.streaming.events import StreamSummary
from llmpipe.streaming.sse import ServerSentEvent

__all__ = ["ConcurrencyLimitMiddleware"]

_QUEUED = "concurrency limit: {endpoint} waits for a slot ({in_flight} in flight)"


class ConcurrencyLimitMiddleware(Middleware):
    """At most ``max_in_flight`` calls between this layer and the server."""

    def __init__(self, max_in_flight: int) -> None:
        if type(max_in_flight) is not int or max_in_flight < 1:
            raise ValueError(f"max_in_flight must be an integer >= 1, got {max_in_flight!r}")
        self.max_in_flight = max_in_flight
        self._slots = asyncio.Semaphore(max_in_flight)
        self._in_flight = 0

    def __repr__(self) -> str:
        return f"ConcurrencyLimitMiddleware(max_in_flight={self.max_in_flight})"

    @property
    def in_flight(self) -> int:
        """Calls (and open streams) holding a slot now."""
        return self._in_flight

    async def __call__(self, request: LLMRequest, call_next: Handler) -> LLMResponse:
        await self._enter(request)
        slot = _Slot(self)
        try:
            response = await call_next(request)
        except BaseException:
            slot.release()
            raise
        stream = response.stream
        if stream is None or stream.finished:
            slot.release()
        else:
            stream.observe(slot)
            slot.watch(stream)
        return response

    async def _enter(self, request: LLMRequest) -> None:
        if self._slots.locked():
            logs.debug(_QUEUED, endpoint=request.endpoint, in_flight=self._in_flight)
        deadline = request.options.deadline_at
        if deadline is None:
            await self._slots.acquire()
        else:
            try:
                async with asyncio.timeout_at(deadline):
                    await self._slots.acquire()
            except TimeoutError:
                raise LLMTimeoutError(
                    f"{request.endpoint}: not sent: the call's deadline passed while it waited "
                    f"for one of the client's {self.max_in_flight} concurrency slots"
                ) from None
        self._in_flight += 1

    def _leave(self) -> None:
        self._in_flight -= 1
        self._slots.release()


class _Slot:
    """One call's slot: released once, by the call, its stream's end, or the collector."""

    __slots__ = ("_finalizer", "_limit", "_released")

    def __init__(self, limit: ConcurrencyLimitMiddleware) -> None:
        self._limit = limit
        self._released = False
        self._finalizer: weakref.finalize[..., object] | None = None

    def watch(self, stream: object) -> None:
        """Release from the loop if ``stream`` is collected without having ended."""
        loop = asyncio.get_running_loop()
        self._finalizer = weakref.finalize(stream, _release_from_anywhere, loop, self)
        self._finalizer.atexit = False

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        if self._finalizer is not None:
            self._finalizer.detach()
        self._limit._leave()

    def on_event(self, event: ServerSentEvent) -> None:
        pass

    def on_end(self, summary: StreamSummary) -> None:
        self.release()


def _release_from_anywhere(loop: asyncio.AbstractEventLoop, slot: _Slot) -> None:
    """The collector may run on any thread; the semaphore belongs to the loop's."""
    with contextlib.suppress(RuntimeError):  # the loop is closed: nothing waits any more
        loop.call_soon_threadsafe(slot.release)
