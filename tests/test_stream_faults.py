"""Streams that go wrong: every failure maps to its documented class, and
nothing received is lost."""

import asyncio
import time

import attrs
import pytest

from llmpipe import (
    LLM,
    AsyncLLM,
    BadRequestError,
    LLMTimeoutError,
    RateLimitError,
    StreamTruncatedError,
)
from llmpipe.testing import Fault

ASK = [{"role": "user", "content": "one two three four five six seven eight"}]
FULL = "Echo: one two three four five six seven eight"


async def read(client, **kwargs):
    stream = await client.chat_completion(ASK, stream=True, **kwargs)
    return await stream.collect()


def text_of(chunks):
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


async def test_connection_dropped_mid_stream_raises_truncated_with_the_partial_reply(
    llm_server, client
):
    # An abortive close may discard bytes the kernel had not handed over yet,
    # so the partial reply is compared with what the caller actually received.
    llm_server.add_faults(Fault(drop_after_events=4))
    stream = await client.chat_completion(ASK, stream=True)
    received = []
    with pytest.raises(StreamTruncatedError, match="truncated after") as caught:
        async for chunk in stream:
            received.append(chunk)
    assert caught.value.events == len(received)
    assert len(received) in range(1, 5)
    assert caught.value.partial.choices[0].message.content == text_of(received)
    assert client.transport.in_flight == 0
    assert client.get_stats().failures == 1


async def test_the_partial_reply_of_a_truncated_stream_has_the_streams_http_facts(
    llm_server, client
):
    llm_server.add_faults(Fault(drop_after_events=2))
    stream = await client.chat_completion(ASK, stream=True)
    with pytest.raises(StreamTruncatedError) as caught:
        await stream.collect()
    assert caught.value.partial.http is stream.http
    assert stream.http.status == 200


async def test_drop_before_the_first_event_is_retried_like_any_failure(llm_server, client):
    llm_server.add_faults(Fault(drop_after_events=0))
    reply = await read(client)
    assert reply.choices[0].message.content == FULL
    assert len(llm_server.requests) == 2
    assert client.get_stats().retries == 1


async def test_error_event_mid_stream_raises_the_matching_api_error(llm_server, client):
    llm_server.add_faults(Fault(error_after_events=3, status=429))
    stream = await client.chat_completion(ASK, stream=True)
    received = []
    with pytest.raises(RateLimitError) as caught:
        async for chunk in stream:
            received.append(chunk)
    assert len(received) == 3
    assert caught.value.status_code == 429
    assert len(llm_server.requests) == 1  # events had reached the caller: no retry


async def test_error_event_before_any_event_is_retried(llm_server, client):
    llm_server.add_faults(Fault(error_after_events=0, status=503))
    reply = await read(client)
    assert reply.choices[0].message.content == FULL
    assert len(llm_server.requests) == 2


async def test_error_event_that_is_never_retryable_is_raised_at_once(llm_server, client):
    # A 400 is not retried, however many retries are allowed; the 503s behind it
    # would show a retry (their own error class, and more requests).
    llm_server.add_faults(Fault(error_after_events=0, status=400), *[Fault(status=503)] * 5)
    with pytest.raises(BadRequestError) as caught:
        await read(client, max_retries=5)
    assert caught.value.status_code == 400
    assert len(llm_server.requests) == 1
    assert client.get_stats().retries == 0


async def test_idle_timeout_between_events_raises_timeout(llm_server, client):
    llm_server.add_faults(Fault(stall_after_events=3, delay=5))
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError, match=r"no next stream event within 0\.3 s"):
        await read(client, idle_timeout=0.3)
    assert time.monotonic() - started < 1.0


async def test_keepalive_comments_do_not_reset_the_idle_timeout(llm_server, client):
    llm_server.add_faults(Fault(stall_after_events=3, delay=3, keepalive_interval=0.05))
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError):
        await read(client, idle_timeout=0.4)
    assert time.monotonic() - started < 1.2


async def test_slow_first_event_times_out_and_is_retried(llm_server, client):
    llm_server.add_faults(Fault(stall_after_events=0, delay=5))
    started = time.monotonic()
    reply = await read(client, first_event_timeout=0.3)
    assert reply.choices[0].message.content == FULL
    assert len(llm_server.requests) == 2
    assert time.monotonic() - started < 1.5


async def test_first_event_timeout_from_the_config(llm_server, config):
    llm_server.add_faults(*[Fault(stall_after_events=0, delay=5)] * 2)
    slow = attrs.evolve(config, stream_first_event_timeout=0.2, max_retries=1)
    async with AsyncLLM(slow) as llm:
        with pytest.raises(LLMTimeoutError, match=r"first stream event within 0\.2 s"):
            await read(llm)


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
async def test_byte_by_byte_delivery_with_any_line_ending_gives_the_full_reply(
    llm_server, client, ending
):
    llm_server.add_faults(Fault(chunk_size=1, line_ending=ending))
    reply = await read(client)
    assert reply.choices[0].message.content == FULL


async def test_comments_and_unknown_fields_between_events_are_ignored(llm_server, client):
    llm_server.add_faults(Fault(sse_comments=True))
    reply = await read(client)
    assert reply.choices[0].message.content == FULL


async def test_a_status_error_on_a_stream_request_is_classified(llm_server, client):
    llm_server.add_faults(Fault(status=400))
    with pytest.raises(BadRequestError) as caught:
        await read(client)
    assert caught.value.status_code == 400
    assert len(llm_server.requests) == 1


async def wait_for_connections(server, count):
    for _ in range(100):
        if server.connections == count:
            return
        await asyncio.sleep(0.01)


async def test_early_break_from_an_unfinished_stream_closes_its_connection(llm_server, client):
    llm_server.add_faults(Fault(stall_after_events=3, delay=5))
    stream = await client.chat_completion(ASK, stream=True)
    async with stream:
        async for _ in stream:
            break
    assert client.transport.in_flight == 0
    await wait_for_connections(llm_server, 0)
    assert llm_server.connections == 0


async def test_a_finished_stream_leaves_its_connection_idle_for_reuse(llm_server, client):
    await read(client)
    await read(client)
    await wait_for_connections(llm_server, 1)
    assert llm_server.connections == 1
    assert len(llm_server.requests) == 2


def test_sync_stream_truncation_raises_with_partial(llm_server, config):
    llm_server.add_faults(Fault(drop_after_events=3))
    received = []
    with LLM(config) as llm:
        stream = llm.chat_completion(ASK, stream=True)
        with pytest.raises(StreamTruncatedError) as caught:
            for chunk in stream:
                received.append(chunk)
    assert caught.value.events == len(received) >= 1
    assert caught.value.partial.choices[0].message.content == text_of(received)
