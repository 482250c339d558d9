"""Cached and reasoning tokens, and usage reported in a vendor's field, are counted."""

from __future__ import annotations

from llmpipe import (
    AsyncLLM,
    ChatCompletionChunk,
    ChatCompletionResponse,
    RetryMiddleware,
    default_middlewares,
)
from llmpipe.middleware.usage.middleware import UsageMiddleware
from llmpipe.testing import Fault
from llmpipe.wire.convert import structure_payload
from llmpipe.wire.usage import read_usage
from tests.wire_samples import DEEPSEEK_REASONING, USER, chunk, stream_fault

GROQ_LAST_CHUNK = chunk(
    {},
    x_groq={
        "id": "req_1",
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
    },
)


def structure(payload, model):
    return structure_payload(payload, model, "test", lambda: "")


def test_usage_details_are_kept_on_the_reply():
    usage = structure(DEEPSEEK_REASONING, ChatCompletionResponse).usage
    assert (usage.cached_tokens, usage.reasoning_tokens) == (8, 25)


def test_null_counts_in_usage_details_read_as_zero():
    payload = {
        "choices": [],
        "usage": {"prompt_tokens_details": {"cached_tokens": None, "audio_tokens": 3}},
    }
    details = structure(payload, ChatCompletionResponse).usage.prompt_tokens_details
    assert (details.cached_tokens, details.audio_tokens) == (0, 3)


def test_the_usage_reader_counts_cached_and_reasoning_tokens():
    used = read_usage(DEEPSEEK_REASONING["usage"])
    assert (used.cached_tokens, used.reasoning_tokens) == (8, 25)


async def test_stats_count_cached_and_reasoning_tokens(llm_server, client):
    llm_server.add_faults(Fault(body=DEEPSEEK_REASONING))
    await client.chat_completion(USER)
    stats = client.get_stats()
    assert (stats.cached_tokens, stats.reasoning_tokens) == (8, 25)


async def test_usage_tracking_totals_cached_and_reasoning_tokens(llm_server, config):
    llm_server.add_faults(Fault(body=DEEPSEEK_REASONING))
    stack = default_middlewares(config).insert_before(RetryMiddleware, UsageMiddleware())
    async with AsyncLLM(config, stack) as llm:
        await llm.chat_completion(USER)
        total = llm.get_usage().total
    assert (total.cached_tokens, total.reasoning_tokens) == (8, 25)


def test_a_chunk_without_usage_takes_it_from_x_groq():
    assert structure(GROQ_LAST_CHUNK, ChatCompletionChunk).usage.total_tokens == 12


def test_the_standard_usage_wins_over_a_vendor_field():
    payload = {
        **GROQ_LAST_CHUNK,
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    assert structure(payload, ChatCompletionChunk).usage.total_tokens == 2


async def test_a_groq_stream_reports_its_usage_to_stats_and_the_folded_reply(llm_server, client):
    llm_server.add_faults(
        stream_fault(chunk({"role": "assistant", "content": "hi"}), GROQ_LAST_CHUNK)
    )
    stream = await client.chat_completion(USER, stream=True)
    reply = await stream.collect()
    assert (reply.usage.total_tokens, client.get_stats().total_tokens) == (12, 12)
