"""Typed use of the sync client, checked by ``mypy --strict`` in ``make lint``.

Not a test module (pytest does not collect it): each ``assert_type`` fails
the type check if a method's declared return type drifts (to ``Any``, or a
union the caller would have to narrow).
"""

from __future__ import annotations

from typing import assert_type

import attrs

from llmpipe import LLM
from llmpipe.streaming.typed import SyncStream
from llmpipe.wire.models import (
    ChatChoice,
    ChatCompletionChunk,
    ChatCompletionResponse,
    CompletionResponse,
    EmbeddingResponse,
    ModelsResponse,
)


@attrs.frozen
class City:
    name: str


def chat(llm: LLM) -> str | None:
    reply = llm.chat_completion([{"role": "user", "content": "Hi"}], max_tokens=5)
    assert_type(reply, ChatCompletionResponse)
    assert_type(reply.choices, list[ChatChoice])
    return reply.choices[0].message.text


def chat_stream(llm: LLM) -> ChatCompletionResponse:
    stream = llm.chat_completion([{"role": "user", "content": "Hi"}], stream=True)
    assert_type(stream, SyncStream[ChatCompletionChunk, ChatCompletionResponse])
    for chunk in stream:
        assert_type(chunk, ChatCompletionChunk)
    return stream.collect()


def structured(llm: LLM) -> str:
    city = llm.chat_completion([{"role": "user", "content": "A city?"}], response_model=City)
    assert_type(city, City)
    return city.name


def completion(llm: LLM) -> CompletionResponse:
    reply = llm.completion("Once upon a time")
    assert_type(reply, CompletionResponse)
    stream = llm.completion("Once upon a time", stream=True)
    assert_type(stream, SyncStream[CompletionResponse, CompletionResponse])
    return stream.collect()


def other_calls(llm: LLM) -> list[str]:
    assert_type(llm.embeddings("Hi"), EmbeddingResponse)
    models = llm.list_models()
    assert_type(models, ModelsResponse)
    return [model.id for model in models.data]
