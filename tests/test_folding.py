"""Folding chunks into the whole reply: text extras, logprobs, refusals and tool
calls as the servers that send them fragment them."""

from __future__ import annotations

import json

import pytest

from llmpipe import ChatCompletionChunk, CompletionResponse
from llmpipe.streaming.folding import CompletionFold, fold_chunks
from llmpipe.wire.convert import structure_payload
from llmpipe.wire.models import (
    ChatChoice,
    ChatCompletionResponse,
    ChunkChoice,
    CompletionChoice,
    Delta,
    Message,
)
from tests.wire_samples import USER, chunk, stream_fault


def chunks(*payloads):
    return [structure_payload(p, ChatCompletionChunk, "test", lambda: "") for p in payloads]


def call(index=None, id=None, name=None, arguments=None):
    fragment = {"function": {}}
    if index is not None:
        fragment["index"] = index
    if id is not None:
        fragment["id"], fragment["type"] = id, "function"
    if name is not None:
        fragment["function"]["name"] = name
    if arguments is not None:
        fragment["function"]["arguments"] = arguments
    return fragment


def calls_of(*deltas):
    reply = fold_chunks(chunks(*(chunk({"tool_calls": [d]}) for d in deltas)))
    return [
        (c.id, c.function.name, c.function.arguments) for c in reply.choices[0].message.tool_calls
    ]


def test_reasoning_content_is_concatenated_like_content():
    reply = fold_chunks(
        chunks(
            chunk({"role": "assistant", "reasoning_content": "Six "}),
            chunk({"reasoning_content": "sevens."}),
            chunk({"content": "42", "reasoning_content": None}),
        )
    )
    message = reply.choices[0].message
    assert (message.content, message.extra) == ("42", {"reasoning_content": "Six sevens."})


def test_other_delta_extras_keep_their_last_value():
    reply = fold_chunks(chunks(chunk({"audio": {"id": "a1"}}), chunk({"audio": {"id": "a2"}})))
    assert reply.choices[0].message.extra == {"audio": {"id": "a2"}}


def test_choice_and_chunk_extras_keep_their_last_non_null_value():
    reply = fold_chunks(
        chunks(
            chunk({"content": "a"}, service_tier="default"),
            {
                **chunk({}, service_tier=None),
                "choices": [{"index": 0, "delta": {}, "stop_reason": 7}],
            },
        )
    )
    assert (reply.extra, reply.choices[0].extra) == (
        {"service_tier": "default"},
        {"stop_reason": 7},
    )


def test_logprobs_content_accumulates_across_chunks():
    first = {"token": "Hel", "logprob": -0.1, "top_logprobs": []}
    second = {"token": "lo", "logprob": -0.2, "top_logprobs": []}
    payloads = [
        {
            **chunk({"content": "Hel"}),
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": "Hel"},
                    "logprobs": {"content": [first], "refusal": None},
                }
            ],
        },
        {
            **chunk({"content": "lo"}),
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": "lo"},
                    "logprobs": {"content": [second], "refusal": None},
                }
            ],
        },
    ]
    reply = fold_chunks(chunks(*payloads))
    assert reply.choices[0].logprobs == {"content": [first, second], "refusal": None}


def test_folding_logprobs_does_not_change_the_chunks_handed_out():
    payload = {
        **chunk({}),
        "choices": [{"index": 0, "delta": {}, "logprobs": {"content": [{"token": "a"}]}}],
    }
    received = chunks(payload, payload)
    fold_chunks(received)
    assert received[0].choices[0].logprobs == {"content": [{"token": "a"}]}


def test_refusal_accumulates_across_chunks():
    reply = fold_chunks(chunks(chunk({"refusal": "I can't "}), chunk({"refusal": "do that."})))
    assert reply.choices[0].message.refusal == "I can't do that."


def test_openai_interleaved_fragments_are_assembled_by_index():
    assert calls_of(
        call(0, "a", "get_weather", ""),
        call(1, "b", "get_time", ""),
        call(0, arguments='{"city":'),
        call(1, arguments='{"tz":'),
        call(0, arguments='"Paris"}'),
        call(1, arguments='"UTC"}'),
    ) == [("a", "get_weather", '{"city":"Paris"}'), ("b", "get_time", '{"tz":"UTC"}')]


def test_llama_cpp_repeated_id_and_name_make_one_call_with_one_name():
    """llama.cpp repeats ``id``, ``type`` and the name in every fragment."""
    assert calls_of(
        call(0, "a", "get_weather", '{"ci'),
        call(0, "a", "get_weather", 'ty": "Paris"}'),
    ) == [("a", "get_weather", '{"city": "Paris"}')]


def test_ollama_calls_all_at_index_zero_stay_apart():
    """Ollama sends each call whole, every one with ``index: 0``."""
    assert calls_of(
        call(0, "a", "get_weather", '{"city":"Paris"}'),
        call(0, "b", "get_time", '{"tz":"UTC"}'),
    ) == [("a", "get_weather", '{"city":"Paris"}'), ("b", "get_time", '{"tz":"UTC"}')]


def test_whole_calls_without_an_index_stay_apart():
    assert calls_of(
        call(None, "a", "get_weather", '{"city":"Paris"}'),
        call(None, "b", "get_weather", '{"city":"Rome"}'),
    ) == [("a", "get_weather", '{"city":"Paris"}'), ("b", "get_weather", '{"city":"Rome"}')]


def test_two_whole_calls_with_neither_id_nor_index_are_not_merged():
    assert calls_of(
        call(name="get_weather", arguments='{"city":"Paris"}'),
        call(name="get_time", arguments='{"tz":"UTC"}'),
    ) == [("", "get_weather", '{"city":"Paris"}'), ("", "get_time", '{"tz":"UTC"}')]


def test_two_whole_calls_of_one_function_without_ids_are_not_merged():
    assert calls_of(
        call(0, name="get_weather", arguments='{"city":"Paris"}'),
        call(0, name="get_weather", arguments='{"city":"Rome"}'),
    ) == [("", "get_weather", '{"city":"Paris"}'), ("", "get_weather", '{"city":"Rome"}')]


def test_a_legacy_function_call_delta_is_folded_like_a_call():
    """LiteLLM adds ``delta.function_call`` beside ``tool_calls``, name repeated."""
    reply = fold_chunks(
        chunks(
            chunk({"function_call": {"name": "get_weather", "arguments": '{"ci'}}),
            chunk({"function_call": {"name": "get_weather", "arguments": 'ty":1}'}}),
        )
    )
    assert reply.choices[0].message.extra["function_call"] == {
        "name": "get_weather",
        "arguments": '{"city":1}',
    }


def test_completion_logprobs_and_fingerprint_are_folded():
    fold = CompletionFold()
    for piece, token in (("Hel", -0.1), ("lo", -0.2)):
        fold.add(
            structure_payload(
                {
                    "id": "c",
                    "system_fingerprint": "fp",
                    "choices": [
                        {"text": piece, "logprobs": {"tokens": [piece], "token_logprobs": [token]}}
                    ],
                },
                CompletionResponse,
                "test",
                lambda: "",
            )
        )
    reply = fold.result()
    assert reply.choices[0].logprobs == {"tokens": ["Hel", "lo"], "token_logprobs": [-0.1, -0.2]}
    assert reply.system_fingerprint == "fp"


async def test_a_streamed_reasoning_reply_folds_and_is_sent_back(llm_server, client):
    llm_server.add_faults(
        stream_fault(
            chunk({"role": "assistant", "content": "", "reasoning_content": "Think"}),
            chunk({"content": "42", "reasoning_content": "ing."}),
        )
    )
    stream = await client.chat_completion(USER, stream=True)
    reply = await stream.collect()
    await client.chat_completion([*USER, reply.choices[0].message])
    assert llm_server.requests[-1].json["messages"][1]["reasoning_content"] == "Thinking."


async def test_ollama_style_tool_calls_over_the_wire_give_two_calls(llm_server, client):
    llm_server.add_faults(
        stream_fault(
            chunk(
                {
                    "role": "assistant",
                    "tool_calls": [call(0, "a", "get_weather", json.dumps({"city": "Paris"}))],
                }
            ),
            chunk({"tool_calls": [call(0, "b", "get_time", json.dumps({"tz": "UTC"}))]}),
        )
    )
    stream = await client.chat_completion(USER, stream=True)
    reply = await stream.collect()
    assert [c.function.name for c in reply.choices[0].message.tool_calls] == [
        "get_weather",
        "get_time",
    ]


def test_the_folded_reply_equals_the_one_its_constructors_build():
    """The fold builds the reply without the models' __init__: the same reply all the same."""
    reply = fold_chunks(
        chunks(
            chunk({"role": "assistant", "content": "Hi", "refusal": "no"}, service_tier="flex"),
            {
                **chunk(),
                "choices": [
                    {"index": 1, "delta": {"content": "?"}},
                    {"index": 0, "delta": {"content": "!"}},
                ],
            },
        )
    )
    message = Message("assistant", "Hi!", refusal="no")
    expected = ChatCompletionResponse(
        id=reply.id,
        created=reply.created,
        model=reply.model,
        choices=[
            ChatChoice(index=0, message=message),
            ChatChoice(index=1, message=Message("assistant", "?")),
        ],
        extra={"service_tier": "flex"},
    )
    assert (reply, reply.http, type(reply)) == (expected, None, ChatCompletionResponse)


def test_a_hand_made_chunk_with_a_role_that_is_not_text_is_refused_as_message_does():
    bad = ChatCompletionChunk(choices=[ChunkChoice(delta=Delta(role=7))])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="role must be a non-empty string"):
        fold_chunks([bad])


def test_the_folded_completion_equals_the_one_its_constructors_build():
    fold = CompletionFold()
    fold.add(CompletionResponse(id="c", created=3, model="m", choices=[CompletionChoice(text="a")]))
    fold.add(CompletionResponse(choices=[CompletionChoice(text="b", finish_reason="stop")]))
    expected = CompletionResponse(
        id="c",
        created=3,
        model="m",
        choices=[CompletionChoice(text="ab", finish_reason="stop")],
    )
    reply = fold.result()
    assert (reply, reply.http, type(reply)) == (expected, None, CompletionResponse)
