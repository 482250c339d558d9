"""Streams as real servers and proxies send them: keep-alives, error events in
their several dialects, events cut off, odd labels and line endings."""

from __future__ import annotations

import asyncio
import json

import pytest

from llmpipe import (
    AsyncLLM,
    BadRequestError,
    InternalServerError,
    LLMConfig,
    LLMResponseError,
    RateLimitError,
    StreamTruncatedError,
)
from llmpipe.testing import Fault
from tests.raw_stream_server import SSE_HEAD, RawServer, head
from tests.wire_samples import DEEPSEEK_REASONING, USER, chunk, sse, stream_fault

HELLO = chunk({"role": "assistant", "content": "Hel"})
LO = chunk({"content": "lo"})


def event(payload) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


async def collect(client, **kwargs):
    stream = await client.chat_completion(USER, stream=True, **kwargs)
    return await stream.collect()


async def collect_raw(*script):
    """The folded reply from a raw server answering with ``script``."""
    async with RawServer(*script) as server, AsyncLLM(LLMConfig(base_url=server.base_url)) as llm:
        return await collect(llm)


async def test_events_with_empty_data_are_keep_alives(llm_server, client):
    """llama.cpp and proxies send ``data: \\n\\n`` to keep a connection open."""
    body = b"data: \n\n" + event(HELLO) + b"data:\n\n" + event(LO) + b"data: [DONE]\n\n"
    llm_server.add_faults(Fault(body=body, content_type="text/event-stream"))
    assert (await collect(client)).choices[0].message.content == "Hello"


async def test_an_event_of_another_type_without_data_is_skipped(llm_server, client):
    body = b"event: ping\n\n" + event(HELLO) + b"event: ping\ndata: {}\n\n" + event(LO)
    llm_server.add_faults(Fault(body=body + b"data: [DONE]\n\n", content_type="text/event-stream"))
    assert (await collect(client)).choices[0].message.content == "Hello"


async def test_data_that_is_not_json_is_a_response_error_and_a_failed_call(llm_server, client):
    llm_server.add_faults(stream_fault(HELLO, "<html>oops</html>"))
    with pytest.raises(LLMResponseError, match="not JSON"):
        await collect(client)
    assert client.get_stats().failures == 1


async def test_a_connection_closed_mid_event_is_a_truncation_with_the_partial_reply():
    cut = b'data: {"id": "c1", "choices": [{"de'
    with pytest.raises(StreamTruncatedError) as caught:
        await collect_raw(SSE_HEAD, event(HELLO), cut)
    assert (caught.value.events, caught.value.partial.choices[0].message.content) == (1, "Hel")


async def test_a_complete_event_without_its_blank_line_is_discarded_at_the_end():
    """WHATWG: an event the stream ends inside is not dispatched."""
    with pytest.raises(StreamTruncatedError) as caught:
        await collect_raw(SSE_HEAD, event(HELLO), b"data: " + json.dumps(LO).encode())
    assert caught.value.partial.choices[0].message.content == "Hel"


async def test_an_unterminated_done_still_ends_the_stream_cleanly():
    reply = await collect_raw(SSE_HEAD, event(HELLO), event(LO), b"data: [DONE]")
    assert reply.choices[0].message.content == "Hello"


async def test_error_null_in_an_ordinary_chunk_is_data(llm_server, client):
    """Foundry Local and some proxies put ``"error": null`` in every chunk."""
    llm_server.add_faults(stream_fault({**HELLO, "error": None}, {**LO, "error": None}))
    assert (await collect(client)).choices[0].message.content == "Hello"


async def test_an_error_event_with_a_digit_string_code_maps_to_that_status(llm_server, client):
    """LiteLLM: ``{"error": {"message": ..., "type": null, "code": "429"}}``."""
    error = {"error": {"message": "limit", "type": None, "code": "429"}}
    llm_server.add_faults(stream_fault(HELLO, error, done=False))
    with pytest.raises(RateLimitError) as caught:
        await collect(client)
    assert caught.value.status_code == 429


async def test_an_error_field_line_raises_instead_of_ending_empty():
    """Older llama.cpp servers: ``error: {...}`` then ``data: [DONE]``."""
    line = (
        b'error: {"code":400,"message":"the prompt is too long","type":"invalid_request_error"}\n\n'
    )
    with pytest.raises(BadRequestError, match="too long"):
        await collect_raw(SSE_HEAD, line, b"data: [DONE]\n\n")


async def test_an_error_typed_event_raises(llm_server, client):
    body = event(HELLO) + b'event: error\ndata: {"message": "overloaded", "code": 503}\n\n'
    llm_server.add_faults(Fault(body=body, content_type="text/event-stream"))
    with pytest.raises(InternalServerError) as caught:
        await collect(client)
    assert caught.value.status_code == 503


async def test_an_event_ended_by_a_lone_cr_is_delivered_at_once():
    first_event = b"data: " + json.dumps(HELLO).encode() + b"\r\r"
    rest = b"data: " + json.dumps(LO).encode() + b"\r\rdata: [DONE]\r\r"
    async with (
        RawServer(SSE_HEAD, first_event, 2.0, rest) as server,
        AsyncLLM(LLMConfig(base_url=server.base_url)) as llm,
    ):
        loop = asyncio.get_running_loop()
        started = loop.time()
        stream = await llm.chat_completion(USER, stream=True)
        first = await stream.__anext__()
        waited = loop.time() - started
        await stream.aclose()
    assert (first.choices[0].delta.content, waited < 1.5) == ("Hel", True)


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain; charset=utf-8", None])
async def test_sse_labelled_as_text_or_not_labelled_is_read_as_a_stream(content_type):
    reply = await collect_raw(head(content_type), sse(HELLO, LO))
    assert reply.choices[0].message.content == "Hello"


async def test_a_json_reply_to_a_stream_request_is_still_one_chunk(llm_server, client):
    llm_server.add_faults(Fault(body=DEEPSEEK_REASONING))
    stream = await client.chat_completion(USER, stream=True)
    chunks = [c async for c in stream]
    assert (len(chunks), stream.response.choices[0].message.content) == (1, "42")


async def test_a_litellm_streamed_text_completion_without_text_keys_folds(llm_server, client):
    """LiteLLM's finish and usage chunks of a text completion have no ``text``."""
    zero = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    head_ = {"id": "c", "object": "text_completion", "created": 1, "model": "m"}
    llm_server.add_faults(
        stream_fault(
            {**head_, "choices": [{"index": 0, "text": "Once"}], "usage": zero},
            {**head_, "choices": [{"index": 0, "finish_reason": "length"}], "usage": zero},
            {**head_, "choices": [{"index": 0}], "usage": {**zero, "total_tokens": 3}},
        )
    )
    stream = await client.completion("x", stream=True)
    reply = await stream.collect()
    assert (reply.choices[0].text, reply.choices[0].finish_reason) == ("Once", "length")


async def test_plain_text_that_is_not_sse_is_a_response_error_quoting_it(llm_server, client):
    llm_server.add_faults(Fault(body="Service unavailable", content_type="text/plain"))
    with pytest.raises(LLMResponseError, match="holds no events; it begins: Service unavailable"):
        await collect(client)


async def test_an_error_event_whose_key_is_json_escaped_still_raises(llm_server, client):
    """The typed stream tells an error event by its parsed JSON, not by the bytes
    ``"error"``: a key written with an escape is the same key."""
    body = event(HELLO) + b'data: {"\\u0065rror": {"message": "busy", "code": 503}}\n\n'
    llm_server.add_faults(Fault(body=body, content_type="text/event-stream"))
    with pytest.raises(InternalServerError, match="busy"):
        await collect(client)
