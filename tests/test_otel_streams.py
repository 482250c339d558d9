"""Streamed calls under OpenTelemetryMiddleware: the spans end with the stream,
however it ends (complete, closed early, abandoned, truncated, an error event)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator

import pytest
from opentelemetry.trace import StatusCode

from llmpipe import AsyncLLM, LLMConfig, RateLimitError, StreamTruncatedError
from llmpipe.testing import Fault
from tests.otel_support import Telemetry

STORY = [{"role": "user", "content": "tell me a story about seven small onions"}]


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


@pytest.fixture
async def traced(config: LLMConfig, telemetry: Telemetry) -> AsyncIterator[AsyncLLM]:
    async with telemetry.client(config) as llm:
        yield llm


def ended(telemetry: Telemetry) -> list[str]:
    return [s.name for s in telemetry.spans()]


async def test_a_stream_span_ends_only_when_the_stream_ends(traced, telemetry):
    stream = await traced.chat_completion(STORY, stream=True)
    assert ended(telemetry) == []
    await stream.collect()
    assert sorted(ended(telemetry)) == ["POST", "chat gpt-4"]


async def test_a_complete_stream_records_the_folded_reply_and_how_it_ended(traced, telemetry):
    stream = await traced.chat_completion(STORY, stream=True)
    reply = await stream.collect()
    assert reply.usage is not None
    attributes = telemetry.span("chat gpt-4").attributes or {}
    assert (
        attributes.items()
        >= {
            "gen_ai.request.stream": True,
            "gen_ai.response.id": reply.id,
            "gen_ai.response.model": reply.model,
            "gen_ai.response.finish_reasons": ("stop",),
            "gen_ai.usage.input_tokens": reply.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": reply.usage.completion_tokens,
            "llmpipe.stream.end": "complete",
        }.items()
    )
    assert (telemetry.span("POST").attributes or {})["llmpipe.stream.end"] == "complete"


async def test_time_to_first_chunk_is_recorded_on_the_span(llm_server, traced, telemetry):
    llm_server.add_faults(Fault(stall_after_events=0, delay=0.2))
    stream = await traced.chat_completion(STORY, stream=True)
    await stream.collect()
    first_chunk = (telemetry.span("chat gpt-4").attributes or {})[
        "gen_ai.response.time_to_first_chunk"
    ]
    assert isinstance(first_chunk, float)
    assert 0.2 <= first_chunk < 2.0


async def test_a_stream_closed_early_ends_its_spans_as_closed_without_an_error(traced, telemetry):
    stream = await traced.chat_completion(STORY, stream=True)
    async with stream:
        async for _ in stream:
            break
    call = telemetry.span("chat gpt-4")
    assert (call.attributes or {})["llmpipe.stream.end"] == "closed"
    assert call.status.status_code is StatusCode.UNSET
    assert (telemetry.span("POST").attributes or {})["llmpipe.stream.end"] == "closed"


async def test_an_abandoned_stream_ends_its_spans_when_collected(traced, telemetry):
    stream = await traced.chat_completion(STORY, stream=True)
    async for _ in stream:
        break
    assert ended(telemetry) == []
    del stream
    gc.collect()
    assert (telemetry.span("chat gpt-4").attributes or {})["llmpipe.stream.end"] == "abandoned"
    assert (telemetry.span("POST").attributes or {})["llmpipe.stream.end"] == "abandoned"


async def test_an_abandoned_streams_span_ends_at_its_last_chunk_not_at_collection(
    traced, telemetry
):
    stream = await traced.chat_completion(STORY, stream=True)
    async for _ in stream:
        break
    await asyncio.sleep(0.3)
    del stream
    gc.collect()
    call = telemetry.span("chat gpt-4")
    assert call.end_time is not None
    assert call.start_time is not None
    assert (call.end_time - call.start_time) / 1e9 < 0.25


async def test_a_truncated_stream_fails_its_spans_with_stream_truncated_error(
    llm_server, traced, telemetry
):
    llm_server.add_faults(Fault(drop_after_events=3))
    stream = await traced.chat_completion(STORY, stream=True)
    with pytest.raises(StreamTruncatedError):
        await stream.collect()
    call = telemetry.span("chat gpt-4")
    assert call.status.status_code is StatusCode.ERROR
    assert (call.attributes or {}).items() >= {
        "error.type": "StreamTruncatedError",
        "llmpipe.stream.end": "failed",
        "gen_ai.response.model": "gpt-4",
    }.items()
    assert (telemetry.span("POST").attributes or {})["error.type"] == "StreamTruncatedError"


async def test_an_error_event_mid_stream_fails_the_span_with_the_errors_class(
    llm_server, traced, telemetry
):
    llm_server.add_faults(Fault(error_after_events=2, status=429))
    stream = await traced.chat_completion(STORY, stream=True)
    with pytest.raises(RateLimitError):
        await stream.collect()
    assert (telemetry.span("chat gpt-4").attributes or {})["error.type"] == "RateLimitError"


async def test_a_stream_retried_before_its_first_event_has_a_span_per_attempt(
    llm_server, traced, telemetry
):
    llm_server.add_faults(Fault(drop_after_events=0))
    stream = await traced.chat_completion(STORY, stream=True)
    await stream.collect()
    first, second = telemetry.attempts()
    assert (first.attributes or {})["error.type"] == "LLMConnectionError"
    assert (second.attributes or {}).items() >= {
        "http.request.resend_count": 1,
        "llmpipe.stream.end": "complete",
    }.items()


async def test_a_streamed_text_completion_records_its_finish_reason(traced, telemetry):
    stream = await traced.completion("Once upon a time", stream=True)
    reply = await stream.collect()
    attributes = telemetry.span("text_completion gpt-4").attributes or {}
    assert attributes["gen_ai.response.finish_reasons"] == (reply.choices[0].finish_reason,)


async def test_opted_in_content_of_a_stream_is_the_folded_text(config, telemetry):
    async with telemetry.client(config, capture_content=True) as llm:
        stream = await llm.chat_completion(STORY, stream=True)
        reply = await stream.collect()
    text = reply.choices[0].message.content
    assert (telemetry.span("chat gpt-4").attributes or {})["gen_ai.output.messages"] == (
        f'[{{"role":"assistant","parts":[{{"type":"text","content":"{text}"}}],'
        '"finish_reason":"stop"}]'
    )


def test_a_sync_stream_ends_its_span_when_read_to_the_end(config, telemetry):
    from llmpipe import LLM, default_middlewares

    with LLM(config, telemetry.middleware().instrument(default_middlewares(config))) as llm:
        for _ in llm.chat_completion(STORY, stream=True):
            pass
    assert (telemetry.span("chat gpt-4").attributes or {})["llmpipe.stream.end"] == "complete"
