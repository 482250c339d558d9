"""Streaming over loopback: typed chunks, folding, the onion watching a stream."""

import asyncio

import attrs
import pytest

import llmpipe
from llmpipe import (
    LLM,
    AsyncLLM,
    ChatCompletionChunk,
    ChatStream,
    CompletionResponse,
    Message,
    fold_chunks,
)

HELLO = [Message(role="user", content="stream me a few words")]


async def test_async_stream_yields_typed_chunks_that_add_up_to_the_reply(client):
    stream = await client.chat_completion(HELLO, stream=True)
    assert isinstance(stream, ChatStream)
    async with stream:
        chunks = [chunk async for chunk in stream]
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: stream me a few words"


async def test_folded_stream_equals_the_non_streamed_reply(client):
    plain = await client.chat_completion(HELLO)
    stream = await client.chat_completion(HELLO, stream=True)
    chunks = [chunk async for chunk in stream]
    folded = fold_chunks(chunks)
    assert folded.choices == plain.choices
    assert folded.usage == plain.usage
    assert stream.response == folded


async def test_last_response_after_a_stream_is_the_folded_reply(client):
    stream = await client.chat_completion(HELLO, stream=True)
    reply = await stream.collect()
    assert client.get_last_response() is reply
    assert reply.choices[0].message.content == "Echo: stream me a few words"
    assert reply.choices[0].finish_reason == "stop"


async def test_stream_requests_usage_by_default_and_counting_records_it(llm_server, client):
    stream = await client.chat_completion(HELLO, stream=True)
    reply = await stream.collect()
    body = llm_server.requests[0].json
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    stats = client.get_stats()
    assert stats.total_tokens == reply.usage.total_tokens == 5 + 6  # words in, words out
    assert (stats.requests, stats.failures) == (1, 0)


async def test_stream_usage_can_be_turned_off_in_the_config(llm_server, config):
    async with AsyncLLM(attrs.evolve(config, stream_usage=False)) as llm:
        stream = await llm.chat_completion(HELLO, stream=True)
        reply = await stream.collect()
    assert "stream_options" not in llm_server.requests[0].json
    assert reply.usage is None


async def test_streamed_text_completion_folds_per_prompt(client):
    stream = await client.completion(["one two", "three"], stream=True)
    reply = await stream.collect()
    assert isinstance(reply, CompletionResponse)
    plain = await client.completion(["one two", "three"])
    assert [c.text for c in reply.choices] == [c.text for c in plain.choices]


async def test_breaking_out_early_gives_the_connection_back_at_once(client):
    stream = await client.chat_completion(HELLO, stream=True)
    async with stream:
        async for _chunk in stream:
            assert client.transport.in_flight == 1
            break
    assert client.transport.in_flight == 0
    reply = await client.chat_completion(HELLO)  # the client is still usable
    assert reply.choices[0].message.content == "Echo: stream me a few words"


async def test_an_exception_inside_the_loop_releases_the_connection(client):
    stream = await client.chat_completion(HELLO, stream=True)

    async def consume():
        async with stream:
            async for _chunk in stream:
                raise RuntimeError("caller failed")

    with pytest.raises(RuntimeError, match="caller failed"):
        await consume()
    assert client.transport.in_flight == 0


async def test_logging_reports_stream_end_with_event_count_and_timing(client):
    lines: list[str] = []
    llmpipe.enable_logging("INFO", sink=lines.append)
    try:
        stream = await client.chat_completion(HELLO, stream=True)
        await stream.collect()
    finally:
        llmpipe.disable_logging()
    [end] = [line for line in lines if "stream chat/completions ended" in line]
    assert "complete=True" in end
    assert "first event after" in end
    assert "events=" in end


def test_sync_stream_is_a_plain_iterator_and_context_manager(config):
    with LLM(config) as llm:
        with llm.chat_completion(HELLO, stream=True) as stream:
            words = [c.choices[0].delta.content for c in stream if c.choices]
        assert "".join(w or "" for w in words) == "Echo: stream me a few words"
        assert stream.response.choices[0].message.content == "Echo: stream me a few words"
        assert llm.get_last_response() == stream.response


def test_sync_stream_left_early_releases_the_connection(config):
    with LLM(config) as llm:
        stream = llm.chat_completion(HELLO, stream=True)
        with stream:
            next(iter(stream))
        assert llm.async_client.transport.in_flight == 0
        assert llm.chat_completion(HELLO).choices[0].message.content.startswith("Echo")


def test_sync_text_completion_stream_collects(config):
    with LLM(config) as llm:
        reply = llm.completion("once upon", stream=True).collect()
    assert reply.choices[0].text.strip()


async def test_response_model_cannot_be_combined_with_streaming(client):
    @attrs.frozen
    class Answer:
        text: str

    with pytest.raises(ValueError, match="stream"):
        await client.chat_completion(HELLO, stream=True, response_model=Answer)


async def test_concurrent_streams_each_get_their_own_text(client):
    async def run(word):
        stream = await client.chat_completion([{"role": "user", "content": word}], stream=True)
        return (await stream.collect()).choices[0].message.content

    replies = await asyncio.gather(*(run(f"word{i}") for i in range(20)))
    assert replies == [f"Echo: word{i}" for i in range(20)]


async def test_closing_the_client_mid_stream_ends_the_stream_with_a_clear_error(llm_server, config):
    from llmpipe import ClientClosedError
    from llmpipe.testing import Fault

    llm_server.add_faults(Fault(stall_after_events=2, delay=5))
    llm = AsyncLLM(config)
    stream = await llm.chat_completion(HELLO, stream=True)
    await stream.__anext__()
    await llm.close()
    with pytest.raises(ClientClosedError, match="closed while the call was in flight"):
        await stream.collect()
    assert llm.transport.in_flight == 0


class _Observer:
    def __init__(self) -> None:
        self.events = 0
        self.ends: list[bool] = []

    def on_event(self, event) -> None:
        self.events += 1

    def on_end(self, summary) -> None:
        self.ends.append(summary.completed)


class _EndOnly(_Observer):
    wants_events = False


class _Observing(llmpipe.Middleware):
    def __init__(self, *observers: _Observer) -> None:
        self.observers = observers

    async def __call__(self, request, call_next):
        response = await call_next(request)
        for observer in self.observers:
            response.stream.observe(observer)
        return response


async def test_an_observer_that_wants_no_events_is_told_only_of_the_end(config):
    every, end_only = _Observer(), _EndOnly()
    async with AsyncLLM(config, middlewares=[_Observing(every, end_only)]) as llm:
        stream = await llm.chat_completion(HELLO, stream=True)
        chunks = [chunk async for chunk in stream]
    assert every.events == len(chunks) > 1
    assert (end_only.events, end_only.ends, every.ends) == (0, [True], [True])


class _ReadingEvents(llmpipe.Middleware):
    """Reads the reply's events itself, as a middleware may, instead of handing them on."""

    def __init__(self) -> None:
        self.datas: list[str] = []

    async def __call__(self, request, call_next):
        response = await call_next(request)
        async for event in response.stream:
            self.datas += [c["delta"].get("content") or "" for c in event.json()["choices"]]
        return response


async def test_a_middleware_iterating_the_event_stream_gets_each_data_event_then_the_end(config):
    reading = _ReadingEvents()
    async with AsyncLLM(config, middlewares=[reading]) as llm, AsyncLLM(config) as plain:
        stream = await llm.chat_completion(HELLO, stream=True)
        left = [chunk async for chunk in stream]  # the middleware read them all
        whole = await plain.chat_completion(HELLO)
    assert (left, "".join(reading.datas)) == ([], whole.choices[0].message.content)
