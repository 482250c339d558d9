"""Arbitrary JSON in place of a reply never escapes as anything but LLMResponseError."""

from hypothesis import given, settings
from hypothesis import strategies as st

from llmpipe import (
    ChatCompletionChunk,
    ChatCompletionResponse,
    CompletionResponse,
    EmbeddingResponse,
    LLMRequest,
    LLMResponse,
    LLMResponseError,
    ModelsResponse,
)
from llmpipe.wire.convert import structure_reply

MODELS = (
    ChatCompletionResponse,
    CompletionResponse,
    ModelsResponse,
    EmbeddingResponse,
    ChatCompletionChunk,
)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    [
        "choices",
        "message",
        "role",
        "content",
        "usage",
        "data",
        "id",
        "index",
        "text",
        "tool_calls",
        "function",
        "delta",
        "embedding",
        "prompt_tokens",
        "finish_reason",
    ]
)
reply_like = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


def structure(payload, model):
    response = LLMResponse.from_json(LLMRequest("chat/completions"), payload)
    try:
        return structure_reply(response, model)
    except LLMResponseError:
        return None


@settings(max_examples=300)
@given(json_values, st.sampled_from(MODELS))
def test_arbitrary_json_yields_a_model_or_a_response_error(payload, model):
    result = structure(payload, model)
    assert result is None or isinstance(result, model)


@settings(max_examples=300)
@given(reply_like, st.sampled_from(MODELS))
def test_reply_shaped_json_yields_a_model_or_a_response_error(payload, model):
    result = structure(payload, model)
    assert result is None or isinstance(result, model)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_as_a_body_yield_a_response_error_or_a_model(raw):
    response = LLMResponse(200, {}, raw, LLMRequest("chat/completions"))
    try:
        result = structure_reply(response, ChatCompletionResponse)
    except LLMResponseError:
        return
    assert isinstance(result, ChatCompletionResponse)
