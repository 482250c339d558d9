"""`to_dict()` gives a reply back as the JSON the server sent, unknown fields included.

The server's JSON is taken off the wire by a middleware next to the
transport (the bytes of the body, or each event's data), parsed on its own,
and compared with the typed reply's `to_dict()`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmpipe import (
    AsyncLLM,
    ChatCompletionChunk,
    ChatCompletionResponse,
    CompletionResponse,
    EmbeddingResponse,
    LLMConfig,
    ModelsResponse,
    default_middlewares,
)
from llmpipe.middleware import SessionMiddleware
from llmpipe.wire.convert import structure_payload
from tests.wire_samples import DEEPSEEK_REASONING, OPENAI_CHAT

USER = [{"role": "user", "content": "one two"}]
WEATHER = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


class WireLog:
    """Records each reply body, or each stream event, as parsed JSON of its own."""

    def __init__(self) -> None:
        self.payloads: list[Any] = []

    async def __call__(self, request, call_next):
        response = await call_next(request)
        if response.stream is None:
            self.payloads.append(json.loads(response.content))
        else:
            response.stream.observe(self)
        return response

    def on_event(self, event) -> None:
        self.payloads.append(json.loads(event.raw))

    def on_end(self, summary) -> None:
        pass


@pytest.fixture
async def wired(config: LLMConfig):
    log = WireLog()
    stack = default_middlewares(config).insert_after(SessionMiddleware, log)
    async with AsyncLLM(config, middlewares=stack) as llm:
        yield llm, log


def structure(payload, model):
    return structure_payload(payload, model, "test", lambda: "")


async def test_a_chat_reply_is_the_json_the_server_sent(wired):
    llm, log = wired
    reply = await llm.chat_completion(USER)
    assert reply.to_dict() == log.payloads[-1]


async def test_a_tool_call_reply_is_the_json_the_server_sent(wired):
    llm, log = wired
    reply = await llm.chat_completion(USER, tools=WEATHER)
    assert reply.choices[0].message.tool_calls
    assert reply.to_dict() == log.payloads[-1]


async def test_each_chat_chunk_is_the_json_the_server_sent(wired):
    llm, log = wired
    stream = await llm.chat_completion(USER, stream=True)
    async with stream:
        chunks = [c.to_dict() async for c in stream]
    assert chunks == log.payloads


async def test_each_tool_call_chunk_is_the_json_the_server_sent(wired):
    llm, log = wired
    stream = await llm.chat_completion(USER, tools=WEATHER, stream=True)
    async with stream:
        chunks = [c.to_dict() async for c in stream]
    assert any("tool_calls" in c["choices"][0]["delta"] for c in chunks if c["choices"])
    assert chunks == log.payloads


async def test_a_text_completion_is_the_json_the_server_sent(wired):
    llm, log = wired
    reply = await llm.completion("Once upon")
    assert reply.to_dict() == log.payloads[-1]


async def test_each_text_completion_chunk_is_the_json_the_server_sent(wired):
    llm, log = wired
    stream = await llm.completion("Once upon", stream=True)
    async with stream:
        chunks = [c.to_dict() async for c in stream]
    assert chunks == log.payloads


@pytest.mark.parametrize("encoding", ["float", "base64"])
async def test_embeddings_are_the_json_the_server_sent(wired, encoding):
    llm, log = wired
    reply = await llm.embeddings(["a", "b"], encoding_format=encoding)
    assert reply.to_dict() == log.payloads[-1]


async def test_the_model_list_is_the_json_the_server_sent(wired):
    llm, log = wired
    listed = await llm.list_models()
    assert listed.to_dict() == log.payloads[-1]


def test_an_openai_reply_with_unknown_fields_comes_back_whole():
    assert structure(OPENAI_CHAT, ChatCompletionResponse).to_dict() == OPENAI_CHAT


@pytest.mark.parametrize(
    ("model", "payload"),
    [
        (
            CompletionResponse,
            {
                "id": "c",
                "object": "text_completion",
                "created": 1,
                "model": "m",
                "choices": [
                    {
                        "text": "x",
                        "index": 0,
                        "finish_reason": "stop",
                        "logprobs": None,
                        "stop_reason": 7,
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2, "x": 1},
                "system_fingerprint": None,
                "timings": {"n": 1},
            },
        ),
        (
            ChatCompletionChunk,
            {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": "r", "reasoning": "r"},
                        "logprobs": None,
                        "finish_reason": None,
                        "stop_reason": None,
                    }
                ],
                "usage": None,
                "system_fingerprint": "fp",
                "x_groq": {"id": "g"},
            },
        ),
        (
            EmbeddingResponse,
            {
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": [1.0], "norm": 1}],
                "model": "m",
                "usage": {"prompt_tokens": 1, "total_tokens": 1, "u": 2},
                "id": "e",
            },
        ),
        (
            ModelsResponse,
            {
                "object": "list",
                "data": [
                    {
                        "id": "m",
                        "object": "model",
                        "created": 1,
                        "owned_by": "o",
                        "max_model_len": 2048,
                    }
                ],
                "has_more": False,
            },
        ),
    ],
    ids=["completion", "chunk", "embeddings", "models"],
)
def test_unknown_fields_at_every_level_come_back_as_sent(model, payload):
    assert structure(payload, model).to_dict() == payload


def test_a_usage_only_chunk_comes_back_with_its_empty_choices():
    payload = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        "system_fingerprint": "fp",
    }
    assert structure(payload, ChatCompletionChunk).to_dict() == payload


def _contains(whole: Any, part: Any) -> bool:
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(
            k in whole and _contains(whole[k], v) for k, v in part.items()
        )
    if isinstance(part, list):
        return (
            isinstance(whole, list) and len(whole) == len(part) and all(map(_contains, whole, part))
        )
    return whole == part


def test_a_reply_that_leaves_out_modelled_fields_loses_nothing_it_sent():
    """DeepSeek sends no `refusal` and only `cached_tokens` in the details: to_dict()
    adds them back (null, 0), since the model cannot tell them from sent ones."""
    back = structure(DEEPSEEK_REASONING, ChatCompletionResponse).to_dict()
    assert _contains(back, DEEPSEEK_REASONING)
    assert back["choices"][0]["message"]["refusal"] is None


def test_to_dict_is_a_copy_the_caller_may_change():
    reply = structure(OPENAI_CHAT, ChatCompletionResponse)
    reply.to_dict()["choices"][0]["message"]["annotations"].append("changed")
    assert reply.choices[0].message.extra == {"annotations": []}


def test_to_dict_gives_plain_json():
    reply = structure(OPENAI_CHAT, ChatCompletionResponse)
    assert json.loads(json.dumps(reply.to_dict())) == reply.to_dict()
