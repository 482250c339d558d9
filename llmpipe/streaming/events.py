"""EventStream: the server-sent events of one streamed reply, read on demand.

The transport hands a streamed reply's body over as bytes (a ``ByteSource``
in ``LLMResponse.byte_stream``); ``open_event_stream`` reads events from
them, just above the transport, so every layer sees an ``EventStream``. The
stream applies two timeouts of its own: time to first event (counted from
when the request was sent) and idle time between events; bytes that carry
no event reset neither: SSE comments, and keep-alive events, which are
skipped (an event with empty data, ``data: \\n\\n``, or of a type other than
``message`` or ``error``, such as ``event: ping``). ``data: [DONE]`` ends it;
an error event raises the matching ``LLMAPIError``: an event whose JSON has a
truthy ``error`` (``"error": null`` in an ordinary chunk is data), or an
event of type ``error``. A connection that ends early, even mid-event,
raises ``StreamTruncatedError``. Middlewares observe a stream (``observe``)
instead of wrapping or buffering it.
"""

from __future__ import annotations

import asyncio
import collections
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import attrs

from llmpipe._fast_init import fast_init
from llmpipe.errors import (
    LLMConnectionError,
    LLMResponseError,
    LLMTimeoutError,
    StreamTruncatedError,
    api_error_from_event,
    snippet,
)
from llmpipe.streaming.sse import ServerSentEvent, SSEDecoder

if TYPE_CHECKING:
    from llmpipe.request import LLMResponse

__all__ = ["ByteSource", "EventStream", "StreamObserver", "StreamSummary", "open_event_stream"]

DEFAULT_STREAM_TIMEOUT = 30.0
"""For a hand-built streamed request with no timeouts of its own (a client's
requests carry theirs, resolved from its config)."""

_DONE = b"[DONE]"
_ERROR_MARK = b'"error"'
_DATA_EVENTS = ("message", "error")
_HEAD_BYTES = 200


def _kept(events: list[ServerSentEvent]) -> list[ServerSentEvent]:
    """The events that carry something: keep-alives (no data, other types) dropped."""
    for event in events:
        raw = event.raw
        # Whitespace is at most 0x20: most data (JSON) is told by its first byte alone.
        if not raw or (raw[0] <= 0x20 and raw.isspace()) or event.event not in _DATA_EVENTS:
            return [e for e in events if e.raw and not e.raw.isspace() and e.event in _DATA_EVENTS]
    return events


class ByteSource(Protocol):
    """What a transport provides: the reply body, piece by piece."""

    def read_nowait(self) -> bytes:
        """Bytes already received, or b"" (never waits)."""

    async def read(self) -> bytes:
        """The next bytes; b"" at end of body. Raises ``LLMConnectionError``."""

    def at_eof(self) -> bool: ...

    async def release(self, completed: bool) -> None:
        """Give the connection back: reusable if ``completed``, else closed.

        A source that can do so without waiting may also offer it as
        ``release_nowait(completed)``: the stream then ends without an await.
        """


@attrs.frozen
class StreamSummary:
    """How a stream ended, for observers."""

    events: int
    first_event_after: float | None
    elapsed: float
    completed: bool
    error: BaseException | None


_new_summary = fast_init(
    StreamSummary, "events", "first_event_after", "elapsed", "completed", "error"
)


class StreamObserver(Protocol):
    """Told of each event and of the end. One that only needs the end may say
    so with a class attribute ``wants_events = False``: a call per event saved."""

    def on_event(self, event: ServerSentEvent) -> None: ...

    def on_end(self, summary: StreamSummary) -> None: ...


class EventStream:
    """An async iterator of data events, ending at ``[DONE]``."""

    __slots__ = (
        "__weakref__",
        "_deadline_at",
        "_decoder",
        "_delivered",
        "_endpoint",
        "_expired",
        "_finished",
        "_first_event_at",
        "_first_timeout",
        "_head",
        "_idle_timeout",
        "_json",
        "_loop",
        "_observers",
        "_pending",
        "_read_deadline",
        "_release_now",
        "_source",
        "_started",
        "_timer",
        "_timer_at",
        "_waiter",
        "_watchers",
    )

    def __init__(
        self,
        source: ByteSource,
        *,
        endpoint: str,
        first_event_timeout: float,
        idle_timeout: float,
        started: float,
        deadline_at: float | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._source = source
        self._release_now: Callable[[bool], None] | None = getattr(source, "release_nowait", None)
        self._endpoint = endpoint
        self._first_timeout = first_event_timeout
        self._idle_timeout = idle_timeout
        self._started = started
        self._deadline_at = deadline_at
        self._decoder = SSEDecoder()
        self._pending: collections.deque[ServerSentEvent] = collections.deque()
        self._observers: list[StreamObserver] = []
        self._watchers: list[StreamObserver] = []  # the observers told of each event
        self._delivered = 0
        self._first_event_at: float | None = None
        self._finished = False
        self._json = False  # see expect_json
        self._head = b""  # the first bytes, until the first event: for a body with none
        # ``started``'s loop when the caller knows it: else looked up on first use
        # (on CPython 3.11 each ``get_running_loop()`` asks the kernel for the pid).
        self._loop = loop
        self._timer: asyncio.TimerHandle | None = None  # the read timeout's, see _fill
        self._timer_at = 0.0
        self._read_deadline = 0.0
        self._waiter: asyncio.Task[object] | None = None
        self._expired = False

    def observe(self, observer: StreamObserver) -> None:
        """Call ``observer.on_event`` for each event and ``on_end`` once at the end."""
        self._observers.append(observer)
        if getattr(observer, "wants_events", True):
            self._watchers.append(observer)

    def expect_json(self) -> None:
        """The reader parses every event's data as JSON (the typed streams do).

        An error event is then told by its parsed JSON (parsed once, for the
        reader too) rather than by searching each event's bytes for ``"error"``.
        """
        self._json = True

    @property
    def delivered(self) -> int:
        """Events handed to the caller so far."""
        return self._delivered

    @property
    def finished(self) -> bool:
        return self._finished

    def __aiter__(self) -> EventStream:
        return self

    async def prefetch(self) -> None:
        """Wait for the first event, so every failure before it is the send's.

        That lets retry re-send exactly while no event has reached the caller.
        """
        try:
            if not self._take():  # the first bytes mostly come with the headers
                await self._fill()
            event = self._pending[0]
            if self._may_be_error(event):
                self._raise_if_error(event)
        except BaseException as exc:
            await self._finish(completed=False, error=exc)
            raise

    async def __anext__(self) -> ServerSentEvent:
        event = await self.next_event()
        if event is None:
            raise StopAsyncIteration
        return event

    async def next_event(self) -> ServerSentEvent | None:
        """The next event, or None once the stream has ended (``[DONE]``).

        ``__anext__`` without the ``StopAsyncIteration``, for a reader that
        would only catch it.
        """
        if self._finished:
            return None
        pending = self._pending
        try:
            if not pending:
                await self._fill()
            event = pending.popleft()
            if event.raw == _DONE:
                if self._release_now is not None:
                    self._finish_now()
                else:
                    await self._finish(completed=True, error=None)
                return None
            if self._may_be_error(event):
                self._raise_if_error(event)
        except BaseException as exc:
            await self._finish(completed=False, error=exc)
            raise
        self._delivered += 1
        for observer in self._watchers:
            observer.on_event(event)
        return event

    async def aclose(self, error: BaseException | None = None) -> None:
        """Stop early: the connection is closed (it cannot be reused mid-body).

        ``error``: the reader gave up because of it (an event it could not
        use); observers then count the stream as failed.
        """
        if not self._finished:
            await self._finish(completed=False, error=error)

    def ready(self) -> ServerSentEvent | None:
        """The next event if it is already decoded and needs no check, else None.

        The typed stream above takes events from here without awaiting, one
        coroutine per event fewer; ``[DONE]``, an error and a read go through
        ``next_event``.
        """
        pending = self._pending
        if not pending or self._finished:
            return None
        event = pending[0]
        if event.raw == _DONE or event.event == "error":
            return None
        if self._json:
            try:
                payload = event.json()
            except ValueError:
                payload = None  # not JSON: the reader says so
            if type(payload) is dict and payload.get("error"):
                return None
        elif event.raw.find(_ERROR_MARK) >= 0:  # not ``in``: it tries an int first
            return None
        pending.popleft()
        self._delivered += 1
        for observer in self._watchers:
            observer.on_event(event)
        return event

    def end_nowait(self) -> bool:
        """End the stream here if ``[DONE]`` is next and the source releases
        without waiting; whether it did. Otherwise nothing changes.

        A fast path for the typed stream's last step, which would otherwise
        create and await a ``next_event`` coroutine only to be told None. It
        must stay equal to ``next_event`` meeting ``[DONE]``: the event taken,
        the connection released for reuse, observers told of a completed end.
        """
        pending = self._pending
        if self._finished or not pending or self._release_now is None:
            return False
        if pending[0].raw != _DONE:
            return False
        pending.popleft()
        self._finish_now()
        return True

    def _may_be_error(self, event: ServerSentEvent) -> bool:
        return self._json or event.event == "error" or event.raw.find(_ERROR_MARK) >= 0

    def _take(self) -> bool:
        """Decode the bytes already received; whether an event is now pending.

        At the end of the body: the last events, or the error for a body that
        ended without ``[DONE]``.
        """
        source, pending = self._source, self._pending
        while not pending:
            chunk = source.read_nowait()
            if not chunk:
                if source.at_eof():
                    self._at_eof()
                    return True
                return False
            self._decode(chunk)
        return True

    def _decode(self, chunk: bytes) -> None:
        if self._first_event_at is None and len(self._head) < _HEAD_BYTES:
            self._head += chunk[: _HEAD_BYTES - len(self._head)]
        events = _kept(self._decoder.feed(chunk))
        if events:
            if self._first_event_at is None:
                loop = self._loop
                if loop is None:
                    loop = self._loop = asyncio.get_running_loop()
                self._first_event_at = loop.time()
            self._pending.extend(events)

    async def _fill(self) -> None:
        """Read until an event is pending, within the stream's timeouts.

        One timer per stream, moved lazily: a read only notes its deadline, and
        the timer, firing before it, re-arms at the deadline noted last. An
        ``asyncio.timeout`` per read would schedule and cancel a timer for
        every event of every stream.
        """
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        if self._first_event_at is None:
            deadline, limit, what = (
                self._started + self._first_timeout,
                self._first_timeout,
                "first",
            )
        else:
            deadline, limit, what = loop.time() + self._idle_timeout, self._idle_timeout, "next"
        if self._deadline_at is not None and self._deadline_at < deadline:
            deadline, what = self._deadline_at, "deadline"
        try:
            while not self._take():
                if deadline <= loop.time():
                    raise TimeoutError
                task = asyncio.current_task()
                assert task is not None  # a stream is read inside a task
                if self._timer is None or self._timer_at > deadline:
                    self._arm(loop, deadline)
                self._read_deadline = deadline
                self._waiter = task
                cancelling = task.cancelling()
                try:
                    chunk = await self._source.read()
                except asyncio.CancelledError:
                    if self._expired:
                        self._expired = False
                        if task.uncancel() <= cancelling:  # ours alone, not the caller's too
                            raise TimeoutError from None
                    raise
                finally:
                    self._waiter = None
                if chunk:
                    self._decode(chunk)
        except TimeoutError:
            if what == "deadline":
                raise LLMTimeoutError(
                    f"{self._endpoint}: the call's deadline passed mid-stream "
                    f"after {self._delivered} events"
                ) from None
            raise LLMTimeoutError(
                f"{self._endpoint}: no {what} stream event within {limit:g} s; "
                "raise the stream timeout or check the server"
            ) from None
        except LLMTimeoutError:
            raise
        except LLMConnectionError as exc:
            if self._first_event_at is None:
                raise
            raise self._truncated(f"the connection broke: {exc}") from exc

    def _arm(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(at, _on_timer, weakref.ref(self))
        self._timer_at = at

    def _timer_fired(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or self._finished:
            return  # no read waits: the next read arms the timer again
        loop = waiter.get_loop()
        if loop.time() >= self._read_deadline:
            self._expired = True
            waiter.cancel()
        else:
            self._arm(loop, self._read_deadline)

    def _at_eof(self) -> None:
        events = _kept(self._decoder.finish())
        if events:
            if self._first_event_at is None:
                loop = self._loop
                if loop is None:
                    loop = self._loop = asyncio.get_running_loop()
                self._first_event_at = loop.time()
            self._pending.extend(events)
            return
        if self._first_event_at is None:
            text = self._head.decode("utf-8", "replace")
            if text.strip():
                raise LLMResponseError(
                    f"{self._endpoint}: the reply to a streamed request holds no events; "
                    f"it begins: {snippet(text)}",
                    body=text,
                )
            raise LLMConnectionError(f"{self._endpoint}: the stream ended before its first event")
        raise self._truncated("the connection closed before [DONE]")

    def _truncated(self, why: str) -> StreamTruncatedError:
        return StreamTruncatedError(
            f"{self._endpoint}: stream truncated after {self._delivered} events ({why})",
            events=self._delivered,
        )

    def _raise_if_error(self, event: ServerSentEvent) -> None:
        try:
            payload = event.json()
        except ValueError:
            if event.event != "error":
                return
            payload = {"error": {"message": event.data}}
        if event.event == "error" or (isinstance(payload, dict) and payload.get("error")):
            raise api_error_from_event(payload, self._endpoint)

    async def _finish(self, *, completed: bool, error: BaseException | None) -> None:
        if self._finished:
            return
        self._stop()
        try:
            if self._release_now is not None:
                self._release_now(completed)
            else:
                await self._source.release(completed)
        finally:
            self._tell_end(completed, error)

    def _finish_now(self) -> None:
        """``_finish`` at ``[DONE]`` for a source that releases without waiting."""
        assert self._release_now is not None
        self._stop()
        try:
            self._release_now(True)
        finally:
            self._tell_end(True, None)

    def _stop(self) -> None:
        self._finished = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tell_end(self, completed: bool, error: BaseException | None) -> None:
        loop = self._loop
        now = (asyncio.get_running_loop() if loop is None else loop).time()
        first = self._first_event_at
        summary = _new_summary(
            self._delivered,
            None if first is None else first - self._started,
            now - self._started,
            completed,
            error,
        )
        for observer in self._observers:
            observer.on_end(summary)


def _on_timer(ref: weakref.ref[EventStream]) -> None:
    """The read timer of a stream, held weakly: a dropped stream is still collected."""
    stream = ref()
    if stream is not None:
        stream._timer_fired()


async def open_event_stream(
    response: LLMResponse, started: float, loop: asyncio.AbstractEventLoop | None = None
) -> LLMResponse:
    """Read events from a streamed reply's bytes, and wait for the first one.

    Waiting here, below every middleware, makes each failure up to the first
    event part of the send, which retry may repeat while no event has reached
    the caller. ``started`` is the time the request was sent, on ``loop``'s
    clock (the running loop when not given).
    """
    source = response.byte_stream
    if source is None or response.stream is not None:
        return response
    if loop is None:
        loop = asyncio.get_running_loop()
    request = response.request
    options = request.options
    first = options.first_event_timeout or request.timeout or DEFAULT_STREAM_TIMEOUT
    stream = EventStream(
        source,
        endpoint=request.endpoint,
        first_event_timeout=first,
        idle_timeout=options.idle_timeout or request.timeout or DEFAULT_STREAM_TIMEOUT,
        started=started,
        deadline_at=options.deadline_at,
        loop=loop,
    )
    # ``prefetch`` in line when the first event came with the headers, as it mostly
    # does, and can be no error: a coroutine fewer per stream. Keep it equal to
    # ``prefetch``, which does everything else (and this again: ``_take`` keeps
    # what it decoded): a read, the error check, a failure ending the stream.
    try:
        ready = stream._take() and not stream._may_be_error(stream._pending[0])
    except BaseException as exc:
        await stream._finish(completed=False, error=exc)
        raise
    if not ready:
        await stream.prefetch()
    response.stream = stream
    response.elapsed = loop.time() - started
    return response
