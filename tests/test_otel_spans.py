"""OpenTelemetryMiddleware's spans over loopback, read back from the real SDK:
a GenAI client span per call, a child HTTP span per attempt, traceparent sent."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import attrs
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from llmpipe import (
    AsyncLLM,
    AuthenticationError,
    BadRequestError,
    LLMConfig,
    LLMConnectionError,
    LLMResponseError,
    LLMTimeoutError,
    NotFoundError,
    RateLimitError,
    UnprocessableEntityError,
)
from llmpipe.observability.semconv import SCHEMA_URL
from llmpipe.testing import Fault, LLMServer
from tests.otel_support import Telemetry, every_attribute_value

HELLO = [{"role": "user", "content": "Hello there"}]


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


@pytest.fixture
async def traced(config: LLMConfig, telemetry: Telemetry) -> AsyncIterator[AsyncLLM]:
    async with telemetry.client(config) as llm:
        yield llm


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_chat_call_is_a_client_span_named_by_operation_and_model(traced, telemetry):
    await traced.chat_completion(HELLO, model="gpt-4o-mini")
    span = telemetry.span("chat gpt-4o-mini")
    assert span.kind is SpanKind.CLIENT
    assert span.instrumentation_scope is not None
    assert (span.instrumentation_scope.name, span.instrumentation_scope.schema_url) == (
        "llmpipe",
        SCHEMA_URL,
    )
    assert span.attributes is not None
    assert span.attributes["gen_ai.operation.name"] == "chat"
    assert span.attributes["gen_ai.provider.name"] == "openai"
    assert span.attributes["gen_ai.request.model"] == "gpt-4o-mini"


async def test_chat_span_records_the_request_parameters(traced, telemetry):
    await traced.chat_completion(
        HELLO,
        temperature=0.25,
        max_tokens=50,
        top_p=0.9,
        seed=7,
        stop=["\n\n"],
        frequency_penalty=0.5,
        presence_penalty=-0.5,
    )
    assert (
        dict(telemetry.span("chat gpt-4").attributes or {}).items()
        >= {
            "gen_ai.request.temperature": 0.25,
            "gen_ai.request.max_tokens": 50,
            "gen_ai.request.top_p": 0.9,
            "gen_ai.request.seed": 7,
            "gen_ai.request.stop_sequences": ("\n\n",),
            "gen_ai.request.frequency_penalty": 0.5,
            "gen_ai.request.presence_penalty": -0.5,
        }.items()
    )


async def test_chat_span_records_the_reply_id_model_finish_reasons_and_usage(traced, telemetry):
    reply = await traced.chat_completion(HELLO)
    assert reply.usage is not None
    assert (
        dict(telemetry.span("chat gpt-4").attributes or {}).items()
        >= {
            "gen_ai.response.id": reply.id,
            "gen_ai.response.model": reply.model,
            "gen_ai.response.finish_reasons": ("stop",),
            "gen_ai.usage.input_tokens": reply.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": reply.usage.completion_tokens,
        }.items()
    )


async def test_the_span_names_the_server_without_credentials(llm_server, traced, telemetry):
    await traced.chat_completion(HELLO)
    attributes = telemetry.span("chat gpt-4").attributes or {}
    assert (attributes["server.address"], attributes["server.port"]) == (
        "127.0.0.1",
        llm_server.port,
    )


async def test_a_text_completion_is_a_text_completion_span(traced, telemetry):
    reply = await traced.completion("Once upon a time", max_tokens=8)
    attributes = telemetry.span("text_completion gpt-4").attributes or {}
    assert attributes["gen_ai.operation.name"] == "text_completion"
    assert attributes["gen_ai.request.max_tokens"] == 8
    assert attributes["gen_ai.response.finish_reasons"] == (reply.choices[0].finish_reason,)


async def test_an_embeddings_call_reports_input_tokens_and_no_output_tokens(traced, telemetry):
    reply = await traced.embeddings(["one", "two"], model="llama-3-8b-instruct")
    attributes = telemetry.span("embeddings llama-3-8b-instruct").attributes or {}
    assert attributes["gen_ai.operation.name"] == "embeddings"
    assert attributes["gen_ai.usage.input_tokens"] == reply.usage.prompt_tokens
    assert "gen_ai.usage.output_tokens" not in attributes


async def test_listing_models_gets_an_http_span_but_no_genai_span(traced, telemetry):
    await traced.list_models()
    assert [s.name for s in telemetry.spans()] == ["GET"]


async def test_each_attempt_is_a_child_span_with_its_status_and_resend_count(
    llm_server, traced, telemetry
):
    llm_server.add_faults(Fault(status=503), Fault(status=429))
    await traced.chat_completion(HELLO)
    call = telemetry.span("chat gpt-4")
    attempts = telemetry.attempts()
    assert [a.parent.span_id if a.parent else None for a in attempts] == [call.context.span_id] * 3
    assert [(a.attributes or {}).get("http.response.status_code") for a in attempts] == [
        503,
        429,
        200,
    ]
    assert [(a.attributes or {}).get("http.request.resend_count") for a in attempts] == [
        None,
        1,
        2,
    ]
    assert [(a.attributes or {}).get("error.type") for a in attempts] == ["503", "429", None]
    assert call.status.status_code is StatusCode.UNSET


async def test_an_attempt_span_follows_the_http_client_conventions(llm_server, traced, telemetry):
    await traced.chat_completion(HELLO)
    (attempt,) = telemetry.attempts()
    assert attempt.kind is SpanKind.CLIENT
    assert dict(attempt.attributes or {}) == {
        "http.request.method": "POST",
        "server.address": "127.0.0.1",
        "server.port": llm_server.port,
        "url.full": f"{llm_server.base_url}/v1/chat/completions",
        "http.response.status_code": 200,
    }


async def test_the_server_receives_each_attempts_own_traceparent(llm_server, traced, telemetry):
    llm_server.add_faults(Fault(status=503))
    await traced.chat_completion(HELLO)
    expected = [
        f"00-{a.context.trace_id:032x}-{a.context.span_id:016x}-{a.context.trace_flags:02x}"
        for a in telemetry.attempts()
    ]
    assert [r.headers.get("traceparent") for r in llm_server.requests] == expected


async def test_a_call_made_inside_an_application_span_joins_its_trace(traced, telemetry):
    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("handle request") as outer:
        await traced.chat_completion(HELLO)
    call = telemetry.span("chat gpt-4")
    assert call.parent is not None
    assert call.parent.span_id == outer.get_span_context().span_id


def test_the_sync_client_traces_calls_too(config, telemetry):
    from llmpipe import LLM, default_middlewares

    stack = telemetry.middleware().instrument(default_middlewares(config))
    tracer = telemetry.tracer_provider.get_tracer("app")
    with LLM(config, stack) as llm, tracer.start_as_current_span("script") as outer:
        llm.chat_completion(HELLO)
    call = telemetry.span("chat gpt-4")
    assert call.parent is not None
    assert call.parent.span_id == outer.get_span_context().span_id
    assert len(telemetry.attempts()) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, BadRequestError), (404, NotFoundError), (422, UnprocessableEntityError)],
)
async def test_a_failed_call_span_names_the_error_class_and_its_attempt_the_status(
    llm_server, traced, telemetry, status, error
):
    llm_server.add_faults(Fault(status=status))
    with pytest.raises(error):
        await traced.chat_completion(HELLO)
    call = telemetry.span("chat gpt-4")
    (attempt,) = telemetry.attempts()
    assert call.status.status_code is StatusCode.ERROR
    assert (call.attributes or {})["error.type"] == error.__name__
    assert (attempt.attributes or {})["error.type"] == str(status)
    assert attempt.status.status_code is StatusCode.ERROR


async def test_retries_given_up_leave_one_failed_span_per_attempt(llm_server, config, telemetry):
    llm_server.add_faults(*[Fault(status=429)] * 2)
    async with telemetry.client(attrs.evolve(config, max_retries=1)) as llm:
        with pytest.raises(RateLimitError):
            await llm.chat_completion(HELLO)
    assert (telemetry.span("chat gpt-4").attributes or {})["error.type"] == "RateLimitError"
    assert [(a.attributes or {})["error.type"] for a in telemetry.attempts()] == ["429", "429"]


async def test_a_refused_connection_is_an_llm_connection_error_span(telemetry):
    config = LLMConfig(base_url=f"http://127.0.0.1:{unused_port()}", max_retries=0)
    async with telemetry.client(config) as llm:
        with pytest.raises(LLMConnectionError):
            await llm.chat_completion(HELLO)
    (attempt,) = telemetry.attempts()
    assert (attempt.attributes or {})["error.type"] == "LLMConnectionError"
    assert "http.response.status_code" not in (attempt.attributes or {})
    assert (telemetry.span("chat gpt-4").attributes or {})["error.type"] == "LLMConnectionError"


async def test_a_timed_out_call_is_an_llm_timeout_error_span(llm_server, config, telemetry):
    llm_server.add_faults(Fault(delay=2))
    async with telemetry.client(attrs.evolve(config, timeout=0.2, max_retries=0)) as llm:
        with pytest.raises(LLMTimeoutError):
            await llm.chat_completion(HELLO)
    assert (telemetry.span("chat gpt-4").attributes or {})["error.type"] == "LLMTimeoutError"


async def test_a_reply_that_is_not_json_fails_the_span_as_the_client_does(
    llm_server, traced, telemetry
):
    llm_server.add_faults(Fault(malformed=True))
    with pytest.raises(LLMResponseError):
        await traced.chat_completion(HELLO)
    call = telemetry.span("chat gpt-4")
    assert (call.attributes or {})["error.type"] == "LLMResponseError"
    assert (telemetry.attempts()[0].attributes or {})["http.response.status_code"] == 200


@pytest.mark.parametrize(
    "body", [{"object": "chat.completion"}, [1, 2]], ids=["no-choices", "a-list"]
)
async def test_a_json_reply_that_does_not_fit_fails_the_span_as_the_client_does(
    llm_server, traced, telemetry, body
):
    llm_server.add_faults(Fault(body=body))
    with pytest.raises(LLMResponseError):
        await traced.chat_completion(HELLO)
    call = telemetry.span("chat gpt-4")
    assert call.status.status_code is StatusCode.ERROR
    assert (call.attributes or {})["error.type"] == "LLMResponseError"


async def test_a_reply_that_fits_leaves_the_span_unfailed(traced, telemetry):
    await traced.embeddings("x")
    await traced.completion("once")
    assert {s.status.status_code for s in telemetry.spans()} == {StatusCode.UNSET}


async def test_message_content_is_not_recorded_by_default(monkeypatch, traced, telemetry):
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    await traced.chat_completion(HELLO)
    assert not any("Hello there" in value for value in every_attribute_value(telemetry))


async def test_opted_in_content_is_recorded_as_the_conventions_messages(config, telemetry):
    async with telemetry.client(config, capture_content=True) as llm:
        await llm.chat_completion([{"role": "system", "content": "Be brief."}, *HELLO])
    attributes = telemetry.span("chat gpt-4").attributes or {}
    assert attributes["gen_ai.input.messages"] == (
        '[{"role":"system","parts":[{"type":"text","content":"Be brief."}]},'
        '{"role":"user","parts":[{"type":"text","content":"Hello there"}]}]'
    )
    assert attributes["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"text","content":"Echo: Hello there"}],'
        '"finish_reason":"stop"}]'
    )


async def test_the_conventions_environment_switch_turns_content_capture_on(
    monkeypatch, config, telemetry
):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    async with telemetry.client(config) as llm:
        await llm.chat_completion(HELLO)
    assert "gen_ai.input.messages" in (telemetry.span("chat gpt-4").attributes or {})


async def test_the_api_key_never_reaches_spans_or_metrics_even_with_content_on(telemetry):
    key = "sk-live-0123456789abcdef0123456789abcdef"
    server = LLMServer(api_key=key)
    with server.run_in_thread():
        good = LLMConfig(base_url=server.base_url, api_key=key, max_retries=0)
        async with telemetry.client(good, capture_content=True) as llm:
            await llm.chat_completion(HELLO)
            stream = await llm.chat_completion(HELLO, stream=True)
            await stream.collect()
        wrong = attrs.evolve(good, api_key=key[:-4] + "beef")
        async with telemetry.client(wrong, capture_content=True) as llm:
            with pytest.raises(AuthenticationError):
                await llm.chat_completion(HELLO)
    values = list(every_attribute_value(telemetry))
    assert len(telemetry.spans()) == 6
    assert not any(key in v or key[:-4] + "beef" in v or key[3:20] in v for v in values)


async def test_provider_name_can_name_the_actual_provider(config, telemetry):
    async with telemetry.client(config, provider_name="groq") as llm:
        await llm.chat_completion(HELLO)
    assert (telemetry.span("chat gpt-4").attributes or {})["gen_ai.provider.name"] == "groq"


def test_an_empty_provider_name_is_refused_naming_an_example(telemetry):
    with pytest.raises(ValueError, match="provider_name must be a non-empty string such as"):
        telemetry.middleware(provider_name="")


async def test_the_attempt_layer_alone_traces_each_request_as_a_root_span(
    llm_server, config, telemetry
):
    from llmpipe import default_middlewares

    attempts = telemetry.middleware().attempts()
    async with AsyncLLM(config, [*default_middlewares(config), attempts]) as llm:
        await llm.chat_completion(HELLO)
    (attempt,) = telemetry.spans()
    assert (attempt.name, attempt.parent) == ("POST", None)
    sent = llm_server.requests[0].headers["traceparent"]
    assert sent.split("-")[2] == f"{attempt.context.span_id:016x}"
