"""Reply models keep what they do not model (``extra``), and send it back."""

from __future__ import annotations

import pytest

from llmpipe import (
    ChatCompletionChunk,
    ChatCompletionResponse,
    CompletionResponse,
    EmbeddingResponse,
    Message,
    ModelsResponse,
)
from llmpipe.testing import Fault
from llmpipe.wire.convert import converter, structure_payload
from tests.wire_samples import DEEPSEEK_REASONING, OPENAI_CHAT, USER, chunk


def structure(payload, model):
    return structure_payload(payload, model, "test", lambda: "")


def test_a_reasoning_reply_keeps_reasoning_content_on_the_message():
    reply = structure(DEEPSEEK_REASONING, ChatCompletionResponse)
    assert reply.choices[0].message.extra == {"reasoning_content": "Six times seven."}


def test_unknown_top_level_fields_are_kept_in_extra():
    reply = structure(OPENAI_CHAT, ChatCompletionResponse)
    assert reply.extra == {"service_tier": "default"}


def test_unknown_message_fields_are_kept_even_when_empty():
    reply = structure(OPENAI_CHAT, ChatCompletionResponse)
    assert reply.choices[0].message.extra == {"annotations": []}


def test_unknown_usage_fields_are_kept():
    reply = structure(DEEPSEEK_REASONING, ChatCompletionResponse)
    assert reply.usage.extra == {"prompt_cache_hit_tokens": 8, "prompt_cache_miss_tokens": 2}


def test_a_key_named_extra_in_the_json_lands_in_extra_not_over_it():
    reply = structure({"choices": [], "extra": 1, "http": 2}, ChatCompletionResponse)
    assert reply.extra == {"extra": 1, "http": 2}


@pytest.mark.parametrize(
    ("model", "payload", "reach"),
    [
        (
            CompletionResponse,
            {"choices": [{"text": "x", "stop_reason": 7}], "timings": {"n": 1}},
            lambda r: (r.extra, r.choices[0].extra),
        ),
        (
            ChatCompletionChunk,
            {
                "choices": [{"delta": {"reasoning": "r"}, "stop_reason": None}],
                "x_groq": {"id": "g"},
            },
            lambda r: (r.extra, r.choices[0].extra, r.choices[0].delta.extra),
        ),
        (
            EmbeddingResponse,
            {
                "data": [{"embedding": [1.0], "norm": 1}],
                "usage": {"prompt_tokens": 1, "u": 2},
                "id": "e",
            },
            lambda r: (r.extra, r.data[0].extra, r.usage.extra),
        ),
        (
            ModelsResponse,
            {"data": [{"id": "m", "max_model_len": 2048, "permission": []}], "has_more": False},
            lambda r: (r.extra, r.data[0].extra),
        ),
    ],
)
def test_every_reply_model_keeps_its_unknown_fields(model, payload, reach):
    kept = reach(structure(payload, model))
    assert all(kept), kept


def test_tool_calls_keep_their_unknown_fields():
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "t1",
                "type": "function",
                "function": {"name": "f", "arguments": "{}", "strict": True},
                "cache_control": {"type": "ephemeral"},
            }
        ],
    }
    reply = structure({"choices": [{"message": message}]}, ChatCompletionResponse)
    call = reply.choices[0].message.tool_calls[0]
    assert (call.extra, call.function.extra) == (
        {"cache_control": {"type": "ephemeral"}},
        {"strict": True},
    )


def test_a_reply_unstructures_back_to_the_json_it_came_from():
    reply = structure(OPENAI_CHAT, ChatCompletionResponse)
    assert converter.unstructure(reply) == {
        **OPENAI_CHAT,
        "choices": [
            {
                **OPENAI_CHAT["choices"][0],
                "message": {
                    **OPENAI_CHAT["choices"][0]["message"],
                    "name": None,
                    "tool_calls": None,
                    "tool_call_id": None,
                },
            }
        ],
    }


async def test_a_reply_message_sent_back_carries_its_reasoning_content(llm_server, client):
    llm_server.add_faults(Fault(body=DEEPSEEK_REASONING))
    reply = await client.chat_completion(USER)
    await client.chat_completion(
        [*USER, reply.choices[0].message, {"role": "user", "content": "ok"}]
    )
    sent = llm_server.requests[-1].json["messages"][1]
    assert sent == {"role": "assistant", "content": "42", "reasoning_content": "Six times seven."}


def test_extra_fields_that_are_null_or_empty_are_not_sent_back():
    from llmpipe.wire.dump import dump_messages

    message = Message("assistant", "hi", extra={"annotations": [], "audio": None, "seed": 0})
    assert dump_messages([message]) == [{"role": "assistant", "content": "hi", "seed": 0}]


def test_a_legacy_function_call_beside_tool_calls_is_not_sent_back():
    from llmpipe import FunctionCall, ToolCall
    from llmpipe.wire.dump import dump_messages

    call = ToolCall(id="t1", function=FunctionCall(name="f", arguments="{}"))
    message = Message(
        "assistant",
        "",
        tool_calls=[call],
        extra={"function_call": {"name": "f:", "arguments": "{}"}},
    )
    assert "function_call" not in dump_messages([message])[0]


def test_a_chunk_without_delta_index_or_finish_reason_is_valid():
    reply = structure({"choices": [{}]}, ChatCompletionChunk)
    assert (reply.choices[0].index, reply.choices[0].delta.content) == (0, None)


def test_a_text_completion_chunk_without_text_is_valid():
    """LiteLLM's finish chunk of a streamed text completion has no ``text``."""
    payload = {
        "id": "c",
        "object": "text_completion",
        "choices": [{"index": 0, "finish_reason": "length"}],
    }
    assert structure(payload, CompletionResponse).choices[0].text == ""


def test_an_azure_content_filter_chunk_is_valid():
    """Azure's first chunk: no choices, the prompt's filter results instead."""
    payload = {
        "id": "",
        "object": "",
        "created": 0,
        "model": "",
        "choices": [],
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
    }
    assert (
        structure(payload, ChatCompletionChunk).extra["prompt_filter_results"][0]["prompt_index"]
        == 0
    )


def test_a_usage_chunk_with_an_empty_delta_is_valid():
    """LiteLLM's usage chunk: ``choices: [{"index": 0, "delta": {}}]``."""
    payload = chunk({}, usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3})
    assert structure(payload, ChatCompletionChunk).usage.total_tokens == 3
