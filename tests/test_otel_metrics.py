"""The gen_ai.client.* histograms, read back from the SDK's in-memory reader."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from llmpipe import AsyncLLM, LLMConfig, NotFoundError, default_middlewares
from llmpipe.observability import semconv
from llmpipe.testing import Fault
from tests.otel_support import Telemetry

HELLO = [{"role": "user", "content": "Hello there"}]
DURATION = "gen_ai.client.operation.duration"
TOKENS = "gen_ai.client.token.usage"
FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
PER_CHUNK = "gen_ai.client.operation.time_per_output_chunk"


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


@pytest.fixture
async def traced(config: LLMConfig, telemetry: Telemetry) -> AsyncIterator[AsyncLLM]:
    async with telemetry.client(config) as llm:
        yield llm


async def test_operation_duration_carries_the_conventions_attributes(llm_server, traced, telemetry):
    await traced.chat_completion(HELLO)
    (point,) = telemetry.points(DURATION)
    assert dict(point.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4",
        "gen_ai.response.model": "gpt-4",
        "server.address": "127.0.0.1",
        "server.port": llm_server.port,
    }
    assert point.count == 1
    assert 0 < point.sum < 5


async def test_operation_duration_uses_the_advised_buckets_in_seconds(traced, telemetry):
    await traced.chat_completion(HELLO)
    (point,) = telemetry.points(DURATION)
    assert tuple(point.explicit_bounds) == semconv.DURATION_BUCKETS
    assert tuple(point.explicit_bounds) == (
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    )  # fmt: skip


async def test_a_retried_call_is_one_duration_covering_every_attempt(llm_server, traced, telemetry):
    llm_server.add_faults(Fault(status=503, delay=0.1), Fault(status=503, delay=0.1))
    await traced.chat_completion(HELLO)
    (point,) = telemetry.points(DURATION)
    assert point.count == 1
    assert point.sum >= 0.2


async def test_a_failed_call_is_measured_with_its_error_type(llm_server, traced, telemetry):
    llm_server.add_faults(Fault(status=404))
    with pytest.raises(NotFoundError):
        await traced.chat_completion(HELLO)
    point = telemetry.point(DURATION, error__type="NotFoundError")
    assert point.count == 1
    assert telemetry.points(TOKENS) == []


async def test_token_usage_is_recorded_per_token_type(traced, telemetry):
    reply = await traced.chat_completion(HELLO)
    assert reply.usage is not None
    sent = telemetry.point(TOKENS, gen_ai__token__type="input")
    received = telemetry.point(TOKENS, gen_ai__token__type="output")
    assert (sent.sum, received.sum) == (reply.usage.prompt_tokens, reply.usage.completion_tokens)
    assert tuple(sent.explicit_bounds) == tuple(float(4**i) for i in range(14))
    assert sent.explicit_bounds[-1] == 67108864


async def test_embeddings_record_input_tokens_only(traced, telemetry):
    await traced.embeddings("one")
    assert [dict(p.attributes or {})["gen_ai.token.type"] for p in telemetry.points(TOKENS)] == [
        "input"
    ]


async def test_a_stream_records_time_to_first_chunk_once_and_each_later_chunk(traced, telemetry):
    stream = await traced.chat_completion(HELLO, stream=True)
    chunks = [chunk async for chunk in stream]
    (first,) = telemetry.points(FIRST_CHUNK)
    (later,) = telemetry.points(PER_CHUNK)
    assert first.count == 1
    assert later.count == len(chunks) - 1
    assert tuple(first.explicit_bounds) == semconv.TIME_TO_FIRST_CHUNK_BUCKETS
    assert dict(first.attributes or {})["gen_ai.response.model"] == "gpt-4"


async def test_a_stream_duration_ends_with_the_stream(llm_server, traced, telemetry):
    llm_server.add_faults(Fault(stall_after_events=2, delay=0.3))
    stream = await traced.chat_completion(HELLO, stream=True)
    assert telemetry.points(DURATION) == []
    await stream.collect()
    (point,) = telemetry.points(DURATION)
    assert point.sum >= 0.3


async def test_metrics_flow_with_a_meter_provider_and_no_tracing(llm_server, config):
    from llmpipe.observability.otel import OpenTelemetryMiddleware

    telemetry = Telemetry()
    layer = OpenTelemetryMiddleware(meter_provider=telemetry.meter_provider)
    async with AsyncLLM(config, layer.instrument(default_middlewares(config))) as llm:
        await llm.chat_completion(HELLO)
    assert telemetry.points(DURATION)[0].count == 1
    assert "traceparent" not in llm_server.requests[0].headers  # no trace to propagate
