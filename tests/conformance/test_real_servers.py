"""llmpipe against real servers: llama.cpp's, and a LiteLLM proxy in front of it.

The model is tiny and writes gibberish, so the tests check shapes and
behaviours, not text. The quirks each server has (see the realserver README)
are asserted as llmpipe meets them.
"""

from __future__ import annotations

import time

import attrs
import pytest

from llmpipe import (
    OMIT,
    AsyncLLM,
    BadRequestError,
    InternalServerError,
    LLMConfig,
    LLMConnectionError,
    RateLimitError,
)

HELLO = [{"role": "user", "content": "Hello"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
FORCED = {"type": "function", "function": {"name": "get_weather"}}
TOO_LONG = [{"role": "user", "content": "x" * 3000}]


async def test_the_model_list_keeps_unknown_fields(server):
    async with AsyncLLM(server) as llm:
        models = await llm.list_models()
    assert "tiny-llama" in [m.id for m in models.data]


async def test_a_chat_reply_carries_usage_and_http_facts(server):
    async with AsyncLLM(server) as llm:
        reply = await llm.chat_completion(HELLO, max_tokens=8, temperature=0)
    assert (reply.http.status, reply.http.attempts) == (200, 1)
    assert reply.http.request_id
    assert reply.usage.completion_tokens >= 1


async def test_a_chat_stream_folds_to_text_and_a_finish_reason(server):
    async with AsyncLLM(server) as llm:
        stream = await llm.chat_completion(HELLO, max_tokens=5, stream=True)
        reply = await stream.collect()
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert stream.http.status == 200


async def test_a_text_completion_stream_folds(server):
    """LiteLLM's finish and usage chunks have no ``text``: they used to fail."""
    async with AsyncLLM(server) as llm:
        stream = await llm.completion("Once upon a time", max_tokens=4, stream=True)
        reply = await stream.collect()
    assert reply.choices[0].finish_reason in ("stop", "length")


async def test_litellm_counts_stream_usage_with_its_own_details(litellm):
    async with AsyncLLM(litellm) as llm:
        stream = await llm.chat_completion(HELLO, max_tokens=5, stream=True)
        reply = await stream.collect()
        stats = llm.get_stats()
    assert reply.usage.total_tokens == stats.total_tokens > 0
    assert reply.usage.completion_tokens_details is not None


async def test_a_forced_tool_call_is_one_call_with_one_name(server):
    async with AsyncLLM(server) as llm:
        reply = await llm.chat_completion(HELLO, tools=[WEATHER], tool_choice=FORCED)
    [call] = reply.choices[0].message.tool_calls
    assert (call.function.name, call.function.arguments[:1]) == ("get_weather", "{")


async def test_a_streamed_forced_tool_call_does_not_double_the_name(server):
    """llama.cpp repeats id and name in every fragment; LiteLLM adds a legacy
    ``function_call`` delta beside them."""
    async with AsyncLLM(server) as llm:
        stream = await llm.chat_completion(HELLO, tools=[WEATHER], tool_choice=FORCED, stream=True)
        reply = await stream.collect()
    [call] = reply.choices[0].message.tool_calls
    assert (call.function.name, call.function.arguments[:1]) == ("get_weather", "{")
    legacy = reply.choices[0].message.extra.get("function_call")
    assert legacy is None or legacy["name"] == "get_weather"


async def test_embeddings_come_back_one_per_input(server):
    async with AsyncLLM(server) as llm:
        reply = await llm.embeddings(["hello", "world"])
    assert [item.index for item in reply.data] == [0, 1]


async def test_a_call_without_temperature_and_with_max_completion_tokens_is_accepted(server):
    async with AsyncLLM(attrs.evolve(server, max_tokens_field="max_completion_tokens")) as llm:
        reply = await llm.chat_completion(HELLO, temperature=OMIT, max_tokens=4)
    assert reply.choices


async def test_json_mode_is_accepted(server):
    async with AsyncLLM(server) as llm:
        reply = await llm.chat_completion(
            HELLO, response_format={"type": "json_object"}, max_tokens=30
        )
    assert reply.choices[0].message.content.lstrip().startswith("{")


async def test_the_generic_call_reaches_llama_cpp_s_tokenizer(llama_cpp):
    async with AsyncLLM(llama_cpp) as llm:
        reply = await llm.request("POST", "/extras/tokenize", json={"input": "hello world"})
    assert (reply.http.status, len(reply.json()["tokens"]) > 0) == (200, True)


async def test_a_prompt_too_long_is_a_bad_request(server):
    async with AsyncLLM(server) as llm:
        with pytest.raises(BadRequestError, match="maximum context length"):
            await llm.chat_completion(TOO_LONG, max_tokens=5)


async def test_llama_cpp_s_empty_failed_stream_is_a_connection_error(llama_cpp):
    """llama.cpp answers a failing stream with 200 and no body at all."""
    async with AsyncLLM(llama_cpp) as llm:
        with pytest.raises(LLMConnectionError, match="before its first event"):
            await llm.chat_completion(TOO_LONG, max_tokens=5, stream=True)


async def test_litellm_turns_the_empty_failed_stream_into_a_clean_empty_one(litellm):
    """A quirk llmpipe cannot see through: the proxy sends a stop chunk and [DONE]."""
    async with AsyncLLM(litellm) as llm:
        stream = await llm.chat_completion(TOO_LONG, max_tokens=5, stream=True)
        reply = await stream.collect()
    assert (reply.choices[0].message.content or "") == ""


async def test_litellm_s_canned_error_is_a_server_error(litellm):
    async with AsyncLLM(litellm) as llm:
        with pytest.raises(InternalServerError):
            await llm.chat_completion(HELLO, model="mock-error")


async def test_litellm_s_unknown_model_is_a_bad_request(litellm):
    async with AsyncLLM(litellm) as llm:
        with pytest.raises(BadRequestError, match="Invalid model name"):
            await llm.chat_completion(HELLO, model="no-such-model")


async def test_litellm_s_rate_limit_hint_is_read_and_not_cut_short(litellm):
    """The 429 carries only ``llm_provider-retry-after: 60``; above the 5 s cap the
    call gives up at once, saying how long the proxy asked for."""
    config: LLMConfig = attrs.evolve(litellm, max_retries=3, max_retry_delay=5)
    async with AsyncLLM(config) as llm:
        started = time.monotonic()
        with pytest.raises(RateLimitError) as caught:
            for _ in range(2):  # rpm 1: the first may still pass
                await llm.chat_completion(HELLO, model="limited", max_tokens=3)
    assert "asked to wait 60 s" in caught.value.not_retried
    assert time.monotonic() - started < 10
