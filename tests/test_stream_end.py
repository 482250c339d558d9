"""A stream's two fast paths against their general ones: the end at ``[DONE]``
(``EventStream.end_nowait`` ends it as ``next_event`` does), and the first
event taken in line by ``open_event_stream`` when it came with the headers
(as ``prefetch`` takes one that comes later)."""

from __future__ import annotations

import json

import llmpipe
from llmpipe import AsyncLLM, LLMConfig, Message
from llmpipe.streaming.events import StreamSummary
from tests.raw_stream_server import SSE_HEAD, RawServer
from tests.wire_samples import USER, chunk

HELLO = [Message(role="user", content="stream me a few words")]


class _Ends:
    def on_event(self, event: object) -> None:
        pass

    def on_end(self, summary: StreamSummary) -> None:
        self.summary = summary


class _Watching(llmpipe.Middleware):
    """Keeps each stream's ``EventStream`` and how it ended; ``by_events``: reads
    every event itself with ``next_event`` (the general path), leaving none."""

    def __init__(self, *, by_events: bool) -> None:
        self.by_events = by_events
        self.ends = _Ends()
        self.stream: llmpipe.EventStream | None = None

    async def __call__(self, request, call_next):
        response = await call_next(request)
        if response.stream is None:  # the plain call after the stream
            return response
        self.stream = response.stream
        response.stream.observe(self.ends)
        if self.by_events:
            while await response.stream.next_event() is not None:
                pass
        return response


async def _ended(config, *, by_events: bool) -> tuple[object, ...]:
    watching = _Watching(by_events=by_events)
    async with AsyncLLM(config, middlewares=[watching]) as llm:
        chunks = [chunk async for chunk in await llm.chat_completion(HELLO, stream=True)]
        in_flight = llm.transport.in_flight
        again = await llm.chat_completion(HELLO)  # the connection went back to the pool
    summary = watching.ends.summary
    assert watching.stream is not None
    stream = watching.stream
    events = summary.events if by_events else len(chunks)
    return (
        events,
        summary.completed,
        summary.error,
        stream.finished,
        stream.delivered,
        in_flight,
        again.choices[0].message.content,
    )


async def test_a_stream_ended_by_end_nowait_ends_as_one_ended_by_next_event(config):
    fast = await _ended(config, by_events=False)
    general = await _ended(config, by_events=True)
    assert fast == general
    assert fast[:3] == (fast[4], True, None)


async def test_end_nowait_leaves_a_stream_whose_next_event_is_data_unchanged(config):
    watching = _Watching(by_events=False)
    async with AsyncLLM(config, middlewares=[watching]) as llm:
        chunks = await llm.chat_completion(HELLO, stream=True)
        stream = watching.stream
        assert stream is not None
        assert stream.end_nowait() is False
        assert (stream.finished, stream.delivered) == (False, 0)
        read = [chunk async for chunk in chunks]
    assert len(read) > 1
    assert (stream.finished, stream.delivered) == (True, len(read))


async def test_end_nowait_ends_a_stream_whose_done_came_in_the_same_read():
    body = f"data: {json.dumps(chunk({'content': 'w'}))}\n\ndata: [DONE]\n\n".encode()
    watching = _Watching(by_events=False)
    server = RawServer(SSE_HEAD + body)
    async with server, AsyncLLM(LLMConfig(base_url=server.base_url), middlewares=[watching]) as llm:
        chunks = await llm.chat_completion(USER, stream=True)
        first = await chunks.__anext__()
        stream = watching.stream
        assert stream is not None
        assert stream.end_nowait() is True
        assert llm.transport.in_flight == 0
    summary = watching.ends.summary
    assert first.choices[0].delta.content == "w"
    assert (summary.events, summary.completed, summary.error) == (1, True, None)
    assert (stream.finished, stream.end_nowait()) == (True, False)


async def _first_read(*script: bytes | float) -> tuple[object, ...]:
    """A one-event stream read whole: what the caller and an observer saw."""
    watching = _Watching(by_events=False)
    server = RawServer(*script)
    async with server, AsyncLLM(LLMConfig(base_url=server.base_url), middlewares=[watching]) as llm:
        try:
            stream = await llm.chat_completion(USER, stream=True)
            texts = [c.choices[0].delta.content async for c in stream]
        except llmpipe.LLMError as error:  # raised by the send: no layer saw a stream
            return (type(error), str(error), llm.transport.in_flight)
        in_flight = llm.transport.in_flight
    summary = watching.ends.summary
    return (texts, summary.events, summary.completed, summary.error, in_flight)


async def test_a_first_event_that_came_with_the_headers_reads_as_one_that_came_later():
    body = f"data: {json.dumps(chunk({'content': 'w'}))}\n\ndata: [DONE]\n\n".encode()
    with_headers = await _first_read(SSE_HEAD + body)  # opened without awaiting prefetch
    later = await _first_read(SSE_HEAD, 0.05, body)  # prefetch waits for it
    assert with_headers == later == (["w"], 1, True, None, 0)


async def test_an_error_event_that_came_with_the_headers_raises_as_one_that_came_later():
    body = b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
    with_headers = await _first_read(SSE_HEAD + body)
    later = await _first_read(SSE_HEAD, 0.05, body)
    assert with_headers == later
    kind, message, in_flight = with_headers
    assert issubclass(kind, llmpipe.LLMAPIError)  # type: ignore[arg-type]
    assert "overloaded" in message  # type: ignore[operator]
    assert in_flight == 0
