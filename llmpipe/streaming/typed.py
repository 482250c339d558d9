"""Typed streams of chunks: ``ChatStream``, ``CompletionStream`` and the sync bridge.

A stream is read as the caller iterates, never buffered whole. It is folded
as it goes, so ``response`` (and the client's ``get_last_response()``) is the
complete reply once the stream ends, and a truncated stream's error carries
everything received. Leaving early (``break``, an exception, ``aclose()``)
closes the connection at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from llmpipe.errors import LLMResponseError, StreamTruncatedError, snippet
from llmpipe.request import LLMResponse
from llmpipe.streaming.events import EventStream
from llmpipe.streaming.folding import ChatFold, CompletionFold, chunk_from_response
from llmpipe.streaming.sse import ServerSentEvent
from llmpipe.wire.convert import structure_payload, structure_reply
from llmpipe.wire.fastpath import FAST_BUILDERS, NotPlain
from llmpipe.wire.models import (
    ChatCompletionChunk,
    ChatCompletionResponse,
    CompletionResponse,
    HTTPInfo,
)

__all__ = ["ChatStream", "CompletionStream", "ReplyStream", "SyncStream"]

ChunkT = TypeVar("ChunkT")
ResultT = TypeVar("ResultT")


ChunkIn = TypeVar("ChunkIn", contravariant=True)
ResultOut = TypeVar("ResultOut", covariant=True)


class _Fold(Protocol[ChunkIn, ResultOut]):
    def add(self, chunk: ChunkIn) -> None: ...

    def result(self, http: HTTPInfo | None = None) -> ResultOut: ...


class ReplyStream(Generic[ChunkT, ResultT]):
    """An async iterator of typed chunks over one streamed reply."""

    __slots__ = (
        "_events",
        "_fast",
        "_fold",
        "_on_complete",
        "_response",
        "_single",
        "http",
        "response",
    )

    _chunk_type: type[ChunkT]

    def __init__(
        self,
        response: LLMResponse,
        fold: _Fold[ChunkT, ResultT],
        on_complete: Callable[[ResultT], None] | None = None,
    ) -> None:
        self._events: EventStream | None = response.stream
        if response.stream is not None:
            response.stream.expect_json()  # every event is parsed: see _structure
        self._fold = fold
        self._on_complete = on_complete
        self._response = response
        self._fast = FAST_BUILDERS.get(self._chunk_type)
        self._single: list[ChunkT] | None = None if response.stream else self._whole(response)
        self.response: ResultT | None = None
        """The folded reply, once the stream has ended (its ``http`` set)."""
        self.http = HTTPInfo(response)
        """The HTTP facts of the reply: status, headers, request id, attempts."""

    def _whole(self, response: LLMResponse) -> list[ChunkT]:
        """A server that ignored stream=True sent the reply whole: one chunk."""
        return [structure_reply(response, self._chunk_type)]

    def __aiter__(self) -> ReplyStream[ChunkT, ResultT]:
        return self

    async def __anext__(self) -> ChunkT:
        if self._single is not None:
            if not self._single:
                self._complete()
                raise StopAsyncIteration
            chunk = self._single.pop()
            self._fold.add(chunk)
            return chunk
        events = self._events
        assert events is not None
        event = events.ready()
        if event is None:
            if events.end_nowait():  # [DONE], without a coroutine (see end_nowait)
                self._complete()
                raise StopAsyncIteration
            try:
                event = await events.next_event()
            except StreamTruncatedError as error:
                partial = self._fold.result(self.http)
                raise error.with_partial(partial) from error.__cause__
            if event is None:
                self._complete()
                raise StopAsyncIteration
        try:
            chunk = self._structure(event)
        except LLMResponseError as error:
            await events.aclose(error)
            raise
        except BaseException:
            await events.aclose()
            raise
        self._fold.add(chunk)
        return chunk

    def _structure(self, event: ServerSentEvent) -> ChunkT:
        try:
            payload = event.json()
        except ValueError as exc:
            raise LLMResponseError(
                f"{self._response.request.endpoint}: a stream event's data is not JSON: "
                f"{snippet(event.data)}",
                body=event.data,
            ) from exc
        if type(payload) is dict and self._fast is not None:
            try:
                chunk: ChunkT = self._fast(payload)
                return chunk
            except NotPlain:
                pass
        where = self._response.request.endpoint
        return structure_payload(payload, self._chunk_type, where, lambda: event.data)

    def _complete(self) -> None:
        if self.response is None:
            self.response = self._fold.result(self.http)
            if self._on_complete is not None:
                self._on_complete(self.response)

    async def collect(self) -> ResultT:
        """Read the rest of the stream and return the whole reply."""
        async for _ in self:
            pass
        assert self.response is not None
        return self.response

    async def aclose(self) -> None:
        """Stop reading; the connection is closed if the stream had not ended."""
        if self._events is not None:
            await self._events.aclose()

    async def __aenter__(self) -> ReplyStream[ChunkT, ResultT]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class ChatStream(ReplyStream[ChatCompletionChunk, ChatCompletionResponse]):
    """The chunks of a streamed chat completion."""

    __slots__ = ()

    _chunk_type = ChatCompletionChunk

    def __init__(
        self,
        response: LLMResponse,
        on_complete: Callable[[ChatCompletionResponse], None] | None = None,
    ) -> None:
        super().__init__(response, ChatFold(), on_complete)

    def _whole(self, response: LLMResponse) -> list[ChatCompletionChunk]:
        return [chunk_from_response(structure_reply(response, ChatCompletionResponse))]


class CompletionStream(ReplyStream[CompletionResponse, CompletionResponse]):
    """The pieces of a streamed text completion."""

    __slots__ = ()

    _chunk_type = CompletionResponse

    def __init__(
        self,
        response: LLMResponse,
        on_complete: Callable[[CompletionResponse], None] | None = None,
    ) -> None:
        super().__init__(response, CompletionFold(), on_complete)


Runner = Callable[[Coroutine[Any, Any, Any]], Any]


class SyncStream(Generic[ChunkT, ResultT]):
    """A blocking iterator over an async stream, one event per hop to its loop."""

    def __init__(self, stream: ReplyStream[ChunkT, ResultT], run: Runner) -> None:
        self._stream = stream
        self._run = run
        self._iterator: AsyncIterator[ChunkT] = stream.__aiter__()

    @property
    def response(self) -> ResultT | None:
        return self._stream.response

    @property
    def http(self) -> HTTPInfo:
        return self._stream.http

    def __iter__(self) -> Iterator[ChunkT]:
        return self

    def __next__(self) -> ChunkT:
        try:
            chunk: ChunkT = self._run(_next(self._iterator))
        except StopAsyncIteration:
            raise StopIteration from None
        return chunk

    def collect(self) -> ResultT:
        result: ResultT = self._run(self._stream.collect())
        return result

    def close(self) -> None:
        self._run(self._stream.aclose())

    def __enter__(self) -> SyncStream[ChunkT, ResultT]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


async def _next(iterator: AsyncIterator[ChunkT]) -> ChunkT:
    return await iterator.__anext__()
