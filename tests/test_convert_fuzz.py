"""Arbitrary JSON in place of a reply never escapes as anything but LLMResponseError,
and every valid reply, unknown keys and all, is accepted as exactly its model."""

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
    Message,
    ModelsResponse,
)
from llmpipe.wire.convert import structure_reply
from llmpipe.wire.models import (
    ChatChoice,
    ChunkChoice,
    CompletionChoice,
    Delta,
    Embedding,
    EmbeddingUsage,
    FunctionCall,
    Model,
    ToolCall,
    Usage,
)

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


# --- valid replies: each strategy draws (payload, the model it must become) --------

texts = st.text(max_size=12)
counts = st.integers(0, 10**6)
finish_reasons = st.none() | st.sampled_from(["stop", "length", "tool_calls"])
# Keys a newer server may add: the reply converter keeps them in the model's ``extra``.
unknown = st.dictionaries(st.text(max_size=6).map("x_".__add__), json_values, max_size=2)


@st.composite
def usages(draw):
    prompt, completion = draw(counts), draw(counts)
    total = prompt + completion
    wire = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}
    extra = draw(unknown)
    return {**wire, **extra}, Usage(**wire, extra=extra)


@st.composite
def tool_calls(draw):
    name, arguments, call_id = draw(texts), draw(texts), draw(texts)
    wire = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    return wire, ToolCall(id=call_id, function=FunctionCall(name=name, arguments=arguments))


@st.composite
def chat_replies(draw):
    choices_wire, choices = [], []
    for index in range(draw(st.integers(1, 3))):
        content, finish = draw(st.none() | texts), draw(finish_reasons)
        calls = draw(st.none() | st.lists(tool_calls(), min_size=1, max_size=2))
        message = {"role": "assistant", "content": content}
        if calls is not None:
            message["tool_calls"] = [wire for wire, _ in calls]
        choice_extra = draw(unknown)
        choices_wire.append(
            {"index": index, "message": message, "finish_reason": finish, **choice_extra}
        )
        typed = Message(
            "assistant", content, tool_calls=None if calls is None else [c for _, c in calls]
        )
        choices.append(
            ChatChoice(message=typed, index=index, finish_reason=finish, extra=choice_extra)
        )
    ident, model, created = draw(texts), draw(texts), draw(counts)
    usage_wire, usage = draw(st.none() | usages()) or (None, None)
    wire = {"id": ident, "object": "chat.completion", "created": created, "model": model}
    extra = draw(unknown)
    payload = {**wire, "choices": choices_wire, "usage": usage_wire, **extra}
    return payload, ChatCompletionResponse(choices=choices, usage=usage, extra=extra, **wire)


@st.composite
def completion_replies(draw):
    pieces = draw(st.lists(st.tuples(texts, finish_reasons), min_size=1, max_size=3))
    choices_wire = [
        {"text": text, "index": i, "finish_reason": finish, "logprobs": None}
        for i, (text, finish) in enumerate(pieces)
    ]
    choices = [
        CompletionChoice(text=text, index=i, finish_reason=finish)
        for i, (text, finish) in enumerate(pieces)
    ]
    model = draw(texts)
    payload = {"object": "text_completion", "model": model, "choices": choices_wire}
    extra = draw(unknown)
    return {**payload, **extra}, CompletionResponse(choices=choices, model=model, extra=extra)


@st.composite
def model_lists(draw):
    ids = draw(st.lists(texts, max_size=4))
    extras = [draw(unknown) for _ in ids]
    data = [
        {"id": i, "object": "model", "created": 1, "owned_by": "x", **extra}
        for i, extra in zip(ids, extras, strict=True)
    ]
    expected = [
        Model(id=i, created=1, owned_by="x", extra=extra)
        for i, extra in zip(ids, extras, strict=True)
    ]
    return {"object": "list", "data": data}, ModelsResponse(data=expected)


@st.composite
def embedding_replies(draw):
    vectors = draw(st.lists(st.lists(st.floats(-1, 1), max_size=4), min_size=1, max_size=3))
    tokens = draw(counts)
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
    payload = {
        "data": data,
        "model": "m",
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    expected = EmbeddingResponse(
        data=[Embedding(embedding=v, index=i) for i, v in enumerate(vectors)],
        model="m",
        usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
    )
    return payload, expected


@st.composite
def chunks(draw):
    content, role = draw(st.none() | texts), draw(st.none() | st.just("assistant"))
    finish = draw(finish_reasons)
    choices_wire, choices = [], []
    if draw(st.booleans()):  # the last chunk of a stream may carry only the usage
        delta = {"role": role, "content": content}
        extra = draw(unknown)
        choices_wire = [{"index": 0, "delta": delta, "finish_reason": finish, **extra}]
        choices = [
            ChunkChoice(delta=Delta(role=role, content=content), finish_reason=finish, extra=extra)
        ]
    usage_wire, usage = draw(st.none() | usages()) or (None, None)
    payload = {"object": "chat.completion.chunk", "choices": choices_wire, "usage": usage_wire}
    return payload, ChatCompletionChunk(choices=choices, usage=usage)


VALID = {
    ChatCompletionResponse: chat_replies(),
    CompletionResponse: completion_replies(),
    ModelsResponse: model_lists(),
    EmbeddingResponse: embedding_replies(),
    ChatCompletionChunk: chunks(),
}


def test_every_model_has_a_valid_reply_strategy():
    assert set(VALID) == set(MODELS)


@settings(max_examples=100)
@given(st.sampled_from(MODELS).flatmap(lambda model: st.tuples(st.just(model), VALID[model])))
def test_a_valid_reply_is_accepted_as_exactly_its_model(drawn):
    model, (payload, expected) = drawn
    response = LLMResponse.from_json(LLMRequest("chat/completions"), payload)
    assert structure_reply(response, model) == expected
