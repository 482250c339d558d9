"""Every request body llmpipe builds, and every reply the bundled server sends,
fits OpenAI's spec (the hand-written subset in tests/data: see its header)."""

from __future__ import annotations

import enum
import json
from typing import Any

import aiohttp
import attrs
import pytest
from jsonschema import Draft202012Validator

from llmpipe import OMIT, FunctionCall, ImagePart, ImageURL, Message, SSEDecoder, TextPart, ToolCall
from llmpipe.testing import Fault, LLMServer
from tests.openai_spec import problems, spec

ASK = [{"role": "user", "content": "hi"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


class Mood(enum.IntEnum):
    CALM = 1
    STORMY = 2


@attrs.frozen
class Forecast:
    city: str
    rain: bool
    mood: Mood
    notes: dict[str, str]


def test_the_spec_subset_is_a_valid_json_schema():
    Draft202012Validator.check_schema(spec())


def test_the_validation_can_fail():
    """A body with an unknown field, and one with a bad role, are refused."""
    assert problems({"model": "m", "messages": ASK, "temprature": 1}, "CreateChatCompletionRequest")
    assert problems({"model": "m", "messages": [{"role": "bot"}]}, "CreateChatCompletionRequest")


# -- the requests llmpipe builds ---------------------------------------------------

CHAT_CALLS = {
    "plain": lambda llm: llm.chat_completion(ASK),
    "no-temperature": lambda llm: llm.chat_completion(ASK, temperature=OMIT, max_tokens=5),
    "max-completion-tokens": lambda llm: llm.chat_completion(ASK, max_completion_tokens=5),
    "tools": lambda llm: llm.chat_completion(
        ASK, tools=[WEATHER], tool_choice="auto", parallel_tool_calls=False
    ),
    "named-tool-choice": lambda llm: llm.chat_completion(
        ASK, tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "get_weather"}}
    ),
    "tool-results": lambda llm: llm.chat_completion(
        [
            Message("system", "be brief"),
            *ASK,
            Message(
                "assistant",
                None,
                tool_calls=[
                    ToolCall(id="call_0", function=FunctionCall(name="get_weather", arguments="{}"))
                ],
            ),
            Message("tool", '{"temp": 3}', tool_call_id="call_0"),
        ],
        tools=[WEATHER],
    ),
    "multimodal": lambda llm: llm.chat_completion(
        [
            Message(
                "user",
                [
                    TextPart(text="what is this?"),
                    ImagePart(image_url=ImageURL(url="https://example.test/a.png", detail="low")),
                ],
                name="ann",
            )
        ]
    ),
    "developer-and-refusal": lambda llm: llm.chat_completion(
        [
            Message("developer", "be kind"),
            Message("assistant", None, refusal="no", extra={"reasoning_content": "hmm"}),
            *ASK,
        ]
    ),
    "response-model": lambda llm: llm.chat_completion(ASK, response_model=Forecast),
    "json-object": lambda llm: llm.chat_completion(ASK, response_format={"type": "json_object"}),
    "sampling": lambda llm: llm.chat_completion(
        ASK, n=2, seed=1, stop=["\n"], top_p=0.5, logprobs=True, top_logprobs=2, user="u"
    ),
}


async def sent_body(llm_server: LLMServer, client, call) -> Any:
    result = await call(client)
    if hasattr(result, "collect"):
        await result.collect()
    return llm_server.requests[-1].json


@pytest.mark.parametrize("call", CHAT_CALLS.values(), ids=CHAT_CALLS.keys())
async def test_chat_request_bodies_fit_the_spec(llm_server, client, call):
    body = await sent_body(llm_server, client, call)
    assert problems(body, "CreateChatCompletionRequest") == []


async def test_a_streamed_chat_request_fits_the_spec(llm_server, client):
    body = await sent_body(llm_server, client, lambda llm: llm.chat_completion(ASK, stream=True))
    assert (problems(body, "CreateChatCompletionRequest"), body["stream"]) == ([], True)


async def test_a_reply_message_sent_back_fits_the_spec(llm_server, client):
    reply = await client.chat_completion(ASK, tools=[WEATHER])
    await client.chat_completion([*ASK, reply.choices[0].message], tools=[WEATHER])
    assert problems(llm_server.requests[-1].json, "CreateChatCompletionRequest") == []


COMPLETION_CALLS = {
    "text": lambda llm: llm.completion("once", max_tokens=3),
    "texts": lambda llm: llm.completion(["a", "b"], echo=False, logprobs=2, suffix="."),
    "tokens": lambda llm: llm.completion([1, 2, 3]),
    "token-lists": lambda llm: llm.completion([[1, 2], [3]]),
    "stream": lambda llm: llm.completion("once", stream=True),
}


@pytest.mark.parametrize("call", COMPLETION_CALLS.values(), ids=COMPLETION_CALLS.keys())
async def test_completion_request_bodies_fit_the_spec(llm_server, client, call):
    body = await sent_body(llm_server, client, call)
    assert problems(body, "CreateCompletionRequest") == []


EMBEDDING_CALLS = {
    "text": lambda llm: llm.embeddings("x"),
    "texts": lambda llm: llm.embeddings(["x", "y"], encoding_format="base64"),
    "tokens": lambda llm: llm.embeddings([1, 2], dimensions=4),
    "token-lists": lambda llm: llm.embeddings([[1], [2, 3]], user="u", encoding_format="float"),
}


@pytest.mark.parametrize("call", EMBEDDING_CALLS.values(), ids=EMBEDDING_CALLS.keys())
async def test_embedding_request_bodies_fit_the_spec(llm_server, client, call):
    body = await sent_body(llm_server, client, call)
    assert problems(body, "CreateEmbeddingRequest") == []


# -- the replies the bundled server sends ------------------------------------------


async def post(server: LLMServer, path: str, body: Any) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.base_url + path, json=body) as reply,
    ):
        return reply.status, await reply.read()


def events(raw: bytes) -> list[Any]:
    decoder = SSEDecoder()
    found = decoder.feed(raw) + decoder.finish()
    return [json.loads(e.data) for e in found if e.data != "[DONE]"]


CHAT_BODIES = {
    "text": {"messages": ASK},
    "n": {"messages": ASK, "n": 2},
    "tools": {"messages": ASK, "tools": [WEATHER]},
    "json-schema": {
        "messages": ASK,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": True},
        },
    },
    "length": {"messages": [{"role": "user", "content": "a b c d"}], "max_tokens": 2},
}


@pytest.mark.parametrize("body", CHAT_BODIES.values(), ids=CHAT_BODIES.keys())
async def test_chat_replies_fit_the_spec(llm_server, body):
    status, raw = await post(llm_server, "/v1/chat/completions", {"model": "gpt-4", **body})
    assert (status, problems(json.loads(raw), "CreateChatCompletionResponse")) == (200, [])


@pytest.mark.parametrize("body", CHAT_BODIES.values(), ids=CHAT_BODIES.keys())
async def test_chat_chunks_fit_the_spec(llm_server, body):
    request = {"model": "gpt-4", "stream": True, "stream_options": {"include_usage": True}, **body}
    _, raw = await post(llm_server, "/v1/chat/completions", request)
    found = [problems(chunk, "CreateChatCompletionStreamResponse") for chunk in events(raw)]
    assert found == [[]] * len(found)


async def test_text_completion_replies_fit_the_spec(llm_server):
    _, raw = await post(llm_server, "/v1/completions", {"model": "gpt-4", "prompt": ["a", "b"]})
    assert problems(json.loads(raw), "CreateCompletionResponse") == []


async def test_text_completion_chunks_fit_the_spec(llm_server):
    request = {"model": "gpt-4", "prompt": "a b", "stream": True}
    _, raw = await post(llm_server, "/v1/completions", request)
    found = [problems(chunk, "CreateCompletionStreamResponse") for chunk in events(raw)]
    assert found == [[]] * len(found)


@pytest.mark.parametrize("encoding", ["float", "base64"])
async def test_embedding_replies_fit_the_spec(llm_server, encoding):
    request = {"model": "gpt-4", "input": ["a", "b"], "encoding_format": encoding}
    _, raw = await post(llm_server, "/v1/embeddings", request)
    assert problems(json.loads(raw), "CreateEmbeddingResponse") == []


async def test_the_model_list_fits_the_spec(llm_server):
    async with (
        aiohttp.ClientSession() as session,
        session.get(llm_server.base_url + "/v1/models") as reply,
    ):
        assert problems(await reply.json(), "ListModelsResponse") == []


ERRORS = {
    "unknown-model": ({"model": "nope", "messages": ASK}, None),
    "bad-request": ({"model": "gpt-4", "messages": []}, None),
    "fault-429": ({"model": "gpt-4", "messages": ASK}, Fault(status=429)),
    "fault-503": ({"model": "gpt-4", "messages": ASK}, Fault(status=503)),
}


@pytest.mark.parametrize(("body", "fault"), ERRORS.values(), ids=ERRORS.keys())
async def test_error_replies_fit_the_spec(llm_server, body, fault):
    if fault is not None:
        llm_server.add_faults(fault)
    status, raw = await post(llm_server, "/v1/chat/completions", body)
    assert (status >= 400, problems(json.loads(raw), "ErrorResponse")) == (True, [])


async def test_an_api_key_error_fits_the_spec():
    async with LLMServer(api_key="sk-right") as server:
        status, raw = await post(
            server, "/v1/chat/completions", {"model": "gpt-4", "messages": ASK}
        )
    assert (status, problems(json.loads(raw), "ErrorResponse")) == (401, [])


@pytest.mark.parametrize("status", [429, 500, 503, 400])
async def test_stream_error_events_fit_the_spec_by_default(llm_server, status):
    llm_server.add_faults(Fault(error_after_events=1, status=status))
    request = {"model": "gpt-4", "messages": ASK, "stream": True}
    *_, error = events((await post(llm_server, "/v1/chat/completions", request))[1])
    assert problems(error, "ErrorResponse") == []


async def test_the_vllm_style_int_code_is_what_the_spec_does_not_allow(llm_server):
    llm_server.add_faults(Fault(error_after_events=1, status=503, int_error_code=True))
    request = {"model": "gpt-4", "messages": ASK, "stream": True}
    *_, error = events((await post(llm_server, "/v1/chat/completions", request))[1])
    assert problems(error, "ErrorResponse") == [
        "$.error.code: 503 is not valid under any of the given schemas"
    ]
