"""The hand-written fast path gives exactly what cattrs gives, or steps aside.

``wire/fastpath.py`` structures the plain reply shapes without cattrs. The
property tests below generate replies near those shapes (wrong types, empty
roles, tool calls, names, refusals, unknown keys) and compare both paths:
where the fast path answers, its model equals cattrs'; where it does not, it
raises ``NotPlain`` and nothing else.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmpipe import (
    AsyncLLM,
    ChatCompletionChunk,
    ChatCompletionResponse,
    CompletionResponse,
    LLMResponseError,
)
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.testing import Fault
from llmpipe.wire._shapes import KEY_SETS_KEPT
from llmpipe.wire.convert import converter, structure_payload, structure_reply
from llmpipe.wire.fastpath import FAST_BUILDERS, LEVELS, NotPlain
from llmpipe.wire.models.http import HTTPInfo

_FAILED = object()
_NOT_PLAIN = object()

texts = st.text(max_size=6)
odd = st.none() | st.integers(-2, 3) | st.floats(allow_nan=False) | st.booleans() | texts


def mostly(good: Any) -> Any:
    """``good`` 19 times in 20, else any odd value: many replies stay plain."""
    return st.integers(0, 19).flatmap(lambda n: odd if n == 0 else good)


maybe_text = mostly(st.none() | texts)


def _with_optional(required: dict[str, Any], optional: dict[str, Any]) -> Any:
    return st.fixed_dictionaries(required, optional=optional)


tool_call = st.fixed_dictionaries(
    {"id": texts, "type": st.just("function")},
    optional={"function": st.fixed_dictionaries({"name": texts, "arguments": texts})},
)
tool_calls = mostly(st.none()) | st.just([]) | st.lists(tool_call, max_size=2)
unknown = st.dictionaries(
    st.sampled_from(["reasoning_content", "annotations", "extra", "http", "x_vendor"]),
    odd,
    max_size=2,
)


def _with_unknown(fields: Any) -> Any:
    """Some keys no model knows, then the modelled ones (which win on a clash)."""
    return st.builds(lambda known, extra: {**extra, **known}, fields, unknown)


message = _with_unknown(
    _with_optional(
        {"role": mostly(st.sampled_from(["assistant", "user", "tool"])) | st.just("")},
        {
            "content": maybe_text,
            "refusal": maybe_text,
            "name": maybe_text,
            "tool_call_id": maybe_text,
            "tool_calls": tool_calls,
        },
    )
)
delta = _with_unknown(
    _with_optional(
        {},
        {
            "role": maybe_text,
            "content": maybe_text,
            "refusal": maybe_text,
            "tool_calls": tool_calls,
        },
    )
)
count = mostly(st.integers(0, 9))
details = st.none() | _with_unknown(
    _with_optional({}, {"cached_tokens": count, "reasoning_tokens": count, "audio_tokens": count})
)
usage = st.none() | _with_unknown(
    _with_optional(
        {},
        {
            "prompt_tokens": count,
            "completion_tokens": count,
            "prompt_tokens_details": details,
            "completion_tokens_details": details,
        },
    )
)
choice_common = {"index": mostly(st.integers(0, 3)), "finish_reason": maybe_text}


def reply(choice: Any) -> Any:
    header = {
        "id": mostly(texts),
        "created": mostly(st.integers(0, 10)),
        "model": mostly(texts),
        "usage": usage,
        "system_fingerprint": maybe_text,
        "x_groq": st.fixed_dictionaries({"id": texts}, optional={"usage": usage}),
        "service_tier": st.sampled_from(["default", "flex"]),
    }
    return _with_optional({"choices": st.lists(_with_unknown(choice), max_size=2)}, header)


chat_reply = reply(_with_optional({"message": message}, choice_common))
chunk_reply = reply(_with_optional({}, {"delta": delta, **choice_common}))
completion_reply = reply(_with_optional({}, {"text": mostly(texts), **choice_common}))


def _make_room() -> None:
    """Forget the readers of a full level: generated replies make far more key
    sets than a server, and a full level steps aside on every new one."""
    for level in LEVELS:
        if level.count >= KEY_SETS_KEPT:
            level.forget()


@pytest.fixture(autouse=True)
def _fresh_levels():
    for level in LEVELS:
        level.forget()


def _fast(payload: dict[str, Any], model: type) -> Any:
    _make_room()
    try:
        return FAST_BUILDERS[model](payload)
    except NotPlain:
        return _NOT_PLAIN


def _cattrs(payload: dict[str, Any], model: type) -> Any:
    try:
        return converter.structure(payload, model)
    except Exception:
        return _FAILED


def _agree(payload: dict[str, Any], model: type) -> None:
    fast = _fast(payload, model)
    if fast is not _NOT_PLAIN:
        assert fast == _cattrs(payload, model)


@settings(max_examples=400)
@given(chat_reply)
def test_fast_chat_replies_equal_what_cattrs_builds(payload):
    _agree(payload, ChatCompletionResponse)


@settings(max_examples=300)
@given(chunk_reply)
def test_fast_chat_chunks_equal_what_cattrs_builds(payload):
    _agree(payload, ChatCompletionChunk)


@settings(max_examples=300)
@given(completion_reply)
def test_fast_text_completions_equal_what_cattrs_builds(payload):
    _agree(payload, CompletionResponse)


@settings(max_examples=300)
@given(st.sampled_from([ChatCompletionResponse]), chat_reply)
def test_every_reply_that_does_not_fit_is_a_response_error(model, payload):
    _make_room()
    try:
        result = structure_payload(payload, model, "chat/completions", lambda: "")
    except LLMResponseError:
        assert _cattrs(payload, model) is _FAILED
        return
    assert result == _cattrs(payload, model)


def _plain_chat(message: dict[str, Any]) -> dict[str, Any]:
    return {"id": "c1", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}


def test_fast_path_keeps_a_refusal():
    reply = FAST_BUILDERS[ChatCompletionResponse](
        _plain_chat({"role": "assistant", "content": None, "refusal": "I can't help with that."})
    )
    assert reply.choices[0].message.refusal == "I can't help with that."


def test_fast_path_keeps_a_refusal_fragment_in_a_chunk():
    chunk = FAST_BUILDERS[ChatCompletionChunk](
        {"choices": [{"index": 0, "delta": {"refusal": "I can't"}}]}
    )
    assert chunk.choices[0].delta.refusal == "I can't"


def test_fast_path_keeps_name_and_tool_call_id():
    reply = FAST_BUILDERS[ChatCompletionResponse](
        _plain_chat({"role": "tool", "content": "18C", "name": "weather", "tool_call_id": "t1"})
    )
    message = reply.choices[0].message
    assert (message.name, message.tool_call_id) == ("weather", "t1")


def test_an_empty_tool_call_list_stays_an_empty_list():
    payload = _plain_chat({"role": "assistant", "content": "hi", "tool_calls": []})
    reply = structure_payload(payload, ChatCompletionResponse, "chat/completions", lambda: "")
    assert reply.choices[0].message.tool_calls == []


_A_TOOL_CALL = {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def vllm_reply() -> dict[str, Any]:
    """A reply shaped as vLLM's OpenAI server sends it: ``"tool_calls": []`` on
    every message, and nulls for fields of its own at every level."""
    message = {
        "role": "assistant",
        "reasoning_content": None,
        "content": "Pools reuse open connections.",
        "tool_calls": [],
    }
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": "stop",
        "stop_reason": None,
    }
    usage = {
        "prompt_tokens": 27,
        "total_tokens": 56,
        "completion_tokens": 29,
        "prompt_tokens_details": None,
    }
    return {
        "id": "chatcmpl-5b1e",
        "object": "chat.completion",
        "created": 1754471210,
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "choices": [choice],
        "usage": usage,
        "prompt_logprobs": None,
        "kv_transfer_params": None,
    }


def test_a_vllm_reply_with_an_empty_tool_call_list_takes_the_fast_path_as_cattrs_builds_it():
    fast = _fast(vllm_reply(), ChatCompletionResponse)
    assert fast is not _NOT_PLAIN
    assert fast == _cattrs(vllm_reply(), ChatCompletionResponse)
    assert fast.choices[0].message.tool_calls == []


def test_a_message_with_tool_calls_still_steps_aside():
    payload = vllm_reply()
    payload["choices"][0]["message"]["tool_calls"] = [_A_TOOL_CALL]
    assert _fast(payload, ChatCompletionResponse) is _NOT_PLAIN


@pytest.mark.parametrize("tool_calls", [[], [_A_TOOL_CALL]], ids=["fast path", "cattrs"])
def test_structure_reply_sets_the_http_facts_on_the_fast_path_and_on_cattrs(tool_calls):
    payload = vllm_reply()
    payload["choices"][0]["message"]["tool_calls"] = tool_calls
    response = LLMResponse.from_json(LLMRequest("chat/completions"), payload)
    http = HTTPInfo(response)
    reply = structure_reply(response, ChatCompletionResponse, http)
    assert reply.http is http
    assert reply == converter.structure(payload, ChatCompletionResponse)


def test_a_message_with_many_known_fields_is_still_taken_by_the_fast_path():
    message = {
        "role": "assistant",
        "content": "hi",
        "refusal": None,
        "name": "bot",
        "tool_call_id": None,
    }
    assert _fast(_plain_chat(message), ChatCompletionResponse) is not _NOT_PLAIN


def test_an_empty_role_is_a_response_error_naming_the_role():
    payload = _plain_chat({"role": "", "content": "hi"})
    with pytest.raises(LLMResponseError, match="role"):
        structure_payload(payload, ChatCompletionResponse, "chat/completions", lambda: "")


async def test_an_empty_role_in_a_reply_counts_as_a_failed_call(llm_server, config):
    llm_server.add_faults(Fault(body=_plain_chat({"role": "", "content": "hi"})))
    async with AsyncLLM(config) as llm:
        with pytest.raises(LLMResponseError):
            await llm.chat_completion([{"role": "user", "content": "hi"}])
        assert llm.get_stats().failures == 1


def test_details_that_equal_shared_ones_but_are_not_ints_still_step_aside():
    """``False == 0`` and ``0.0 == 0``: built details are shared by their values' types too."""

    def reply(count: Any) -> dict[str, Any]:
        usage = {"prompt_tokens": 1, "prompt_tokens_details": {"cached_tokens": count}}
        return {**_plain_chat({"role": "assistant", "content": "hi"}), "usage": usage}

    FAST_BUILDERS[ChatCompletionResponse](reply(0))  # shared from now on
    for odd_count in (False, 0.0):
        with pytest.raises(NotPlain):
            FAST_BUILDERS[ChatCompletionResponse](reply(odd_count))


def test_details_holding_a_list_step_aside():
    usage = {"completion_tokens_details": {"reasoning_tokens": [1]}}
    payload = {**_plain_chat({"role": "assistant", "content": "hi"}), "usage": usage}
    with pytest.raises(NotPlain):
        FAST_BUILDERS[ChatCompletionResponse](payload)
