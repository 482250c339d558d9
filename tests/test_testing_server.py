"""Tests of llmpipe.testing: the bundled OpenAI-compatible server, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import math
import re
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

import llmpipe.testing
from llmpipe.testing import DEFAULT_MODELS, Fault, LLMServer

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
EMBEDDINGS = "/v1/embeddings"
MODELS = "/v1/models"


@attrs.frozen
class Reply:
    status: int
    headers: CIMultiDictProxy[str]  # looked up case-insensitively, as HTTP does
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def call(
    session: aiohttp.ClientSession,
    server: LLMServer,
    path: str,
    body: Any = None,
    *,
    method: str = "POST",
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    async with session.request(
        method, server.base_url + path, json=body, data=data, headers=headers
    ) as response:
        headers = CIMultiDictProxy(CIMultiDict(response.headers))
        return Reply(response.status, headers, await response.text())


def chat(content: Any = "Hello there", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4", "messages": [{"role": "user", "content": content}], **extra}


def embedding(text: Any = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4", "input": text, **extra}


def events(reply: Reply) -> list[Any]:
    """The JSON chunks of a server-sent event stream that ends with [DONE]."""
    assert reply.headers["Content-Type"] == "text/event-stream"
    *blocks, done, tail = reply.text.split("\n\n")
    assert (done, tail) == ("data: [DONE]", "")
    assert all(block.startswith("data: ") for block in blocks)
    return [json.loads(block.removeprefix("data: ")) for block in blocks]


def completion(prompt: Any = "Once upon a time", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4", "prompt": prompt, **extra}


@attrs.frozen
class RawStream:
    """A streamed body as it came off the wire."""

    status: int
    headers: CIMultiDictProxy[str]
    pieces: list[bytes]  # the body's HTTP chunks, one per server write
    arrivals: list[float]  # time.monotonic() at which each piece had arrived
    truncated: bool  # the connection closed before the body ended

    @property
    def data(self) -> bytes:
        return b"".join(self.pieces)


async def stream(
    session: aiohttp.ClientSession,
    server: LLMServer,
    body: Any,
    path: str = CHAT,
    headers: Mapping[str, str] | None = None,
) -> RawStream:
    async with session.post(server.base_url + path, json=body, headers=headers) as response:
        pieces: list[bytes] = []
        arrivals: list[float] = []
        piece = b""
        truncated = False
        try:
            async for data, end_of_chunk in response.content.iter_chunks():
                piece += data
                # aiohttp may report the end of the closing empty chunk too: no piece.
                if end_of_chunk and piece:
                    pieces.append(piece)
                    arrivals.append(time.monotonic())
                    piece = b""
        except aiohttp.ClientPayloadError:
            truncated = True
        headers = CIMultiDictProxy(CIMultiDict(response.headers))
        return RawStream(response.status, headers, pieces, arrivals, truncated)


def sse_data(raw: bytes) -> list[str]:
    """The data of each event in a server-sent event stream, by the WHATWG rules."""
    *lines, _unterminated = re.split(r"\r\n|\r|\n", raw.decode())
    found: list[str] = []
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                found.append("\n".join(data))
            data = []
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            if field == "data":
                data.append(value.removeprefix(" "))
    return found


def sse_json(raw: bytes) -> list[Any]:
    """The JSON events of a stream, without the closing [DONE] (which must be last if sent)."""
    found = sse_data(raw)
    assert "[DONE]" not in found[:-1]
    return [json.loads(data) for data in found if data != "[DONE]"]


def deltas(raw: bytes) -> list[dict[str, Any]]:
    return [chunk["choices"][0]["delta"] for chunk in sse_json(raw)]


async def settles(read: Callable[[], int], value: int) -> bool:
    """Whether `read()` comes to equal `value` within two seconds."""
    for _ in range(200):
        if read() == value:
            return True
        await asyncio.sleep(0.01)
    return read() == value


def tool(name: str, parameters: Any = None) -> dict[str, Any]:
    function: dict[str, Any] = {"name": name}
    if parameters is not None:
        function["parameters"] = parameters
    return {"type": "function", "function": function}


WEATHER = tool(
    "get_weather",
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
    },
)
TIME = tool("get_time", {"type": "object", "properties": {"zone": {"enum": ["UTC", "CET"]}}})


# --- chat completions ---------------------------------------------------------


async def test_chat_echoes_the_last_user_message(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    body = {
        "model": "gpt-4",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": "second question"},
        ],
    }
    reply = await call(session, llm_server, CHAT, body)
    assert reply.status == 200
    assert reply.json()["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Echo: second question",
        "refusal": None,
    }


async def test_chat_reply_has_the_openai_shape(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = (await call(session, llm_server, CHAT, chat(model="gpt-4o-mini"))).json()
    assert reply == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Echo: Hello there", "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5},
        "system_fingerprint": "llmpipe-testing",
    }


async def test_chat_joins_the_text_parts_of_list_content(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    parts = [
        {"type": "text", "text": "look at"},
        {"type": "image_url", "image_url": {"url": "http://example.invalid/cat.png"}},
        {"type": "text", "text": "this"},
    ]
    reply = (await call(session, llm_server, CHAT, chat(parts))).json()
    assert reply["choices"][0]["message"]["content"] == "Echo: look at this"


async def test_chat_usage_counts_words_of_every_message(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    body = {
        "model": "gpt-4",
        "messages": [
            {"role": "system", "content": "one two three"},
            {"role": "user", "content": [{"type": "text", "text": "four five"}]},
        ],
    }
    usage = (await call(session, llm_server, CHAT, body)).json()["usage"]
    assert usage == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}


async def test_chat_max_tokens_cuts_the_reply_and_reports_length(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = (await call(session, llm_server, CHAT, chat("a b c d e", max_tokens=3))).json()
    assert reply["choices"][0]["message"]["content"] == "Echo: a b"
    assert reply["choices"][0]["finish_reason"] == "length"
    assert reply["usage"]["completion_tokens"] == 3


async def test_chat_max_tokens_above_reply_length_finishes_with_stop(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = (await call(session, llm_server, CHAT, chat("a b", max_tokens=3))).json()
    assert reply["choices"][0]["message"]["content"] == "Echo: a b"
    assert reply["choices"][0]["finish_reason"] == "stop"


async def test_chat_n_gives_identical_choices_indexed_in_order(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = (await call(session, llm_server, CHAT, chat("hi", n=3))).json()
    assert [choice["index"] for choice in reply["choices"]] == [0, 1, 2]
    assert {choice["message"]["content"] for choice in reply["choices"]} == {"Echo: hi"}
    assert reply["usage"]["completion_tokens"] == 2 * 3


@pytest.mark.parametrize(
    "body",
    [
        [{"role": "user", "content": "hi"}],
        {"model": "gpt-4"},
        {"model": "gpt-4", "messages": []},
        {"model": "gpt-4", "messages": "hi"},
        {"model": "gpt-4", "messages": [{"content": "no role"}]},
        {"model": "gpt-4", "messages": [{"role": "user", "content": 42}]},
        {"messages": [{"role": "user", "content": "no model"}]},
        chat(max_tokens=0),
        chat(n="2"),
        chat(stream="yes"),
        chat(stream=True, stream_options=[]),
    ],
    ids=[
        "not-an-object",
        "no-messages",
        "empty-messages",
        "messages-not-a-list",
        "message-without-role",
        "content-not-text",
        "no-model",
        "zero-max-tokens",
        "n-not-an-int",
        "stream-not-a-boolean",
        "stream-options-not-an-object",
    ],
)
async def test_chat_rejects_an_invalid_request_with_400(
    llm_server: LLMServer, session: aiohttp.ClientSession, body: Any
) -> None:
    reply = await call(session, llm_server, CHAT, body)
    assert reply.status == 400
    assert reply.json()["error"]["type"] == "invalid_request_error"


async def test_chat_unknown_model_is_404_model_not_found(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = await call(session, llm_server, CHAT, chat(model="gpt-5-imaginary"))
    assert reply.status == 404
    assert reply.json()["error"]["code"] == "model_not_found"


async def test_body_that_is_not_json_is_400(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = await call(
        session, llm_server, CHAT, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert reply.status == 400
    assert set(reply.json()["error"]) == {"message", "type", "param", "code"}


# --- tool calls ---------------------------------------------------------------


async def test_chat_with_tools_calls_every_tool_in_order(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = (await call(session, llm_server, CHAT, chat(tools=[WEATHER, TIME]))).json()
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    assert [(c["id"], c["type"], c["function"]["name"]) for c in calls] == [
        ("call_0", "function", "get_weather"),
        ("call_1", "function", "get_time"),
    ]


async def test_chat_tool_arguments_are_compact_json_of_the_parameters_example(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = (await call(session, llm_server, CHAT, chat(tools=[WEATHER, TIME]))).json()
    arguments = [c["function"]["arguments"] for c in reply["choices"][0]["message"]["tool_calls"]]
    assert arguments == ['{"city":"example","days":1}', '{"zone":"UTC"}']


async def test_chat_tool_without_parameters_is_called_with_an_empty_object(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = (await call(session, llm_server, CHAT, chat(tools=[tool("ping")]))).json()
    assert reply["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == "{}"


async def test_chat_tool_call_usage_counts_the_words_of_names_and_arguments(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = (await call(session, llm_server, CHAT, chat(tools=[WEATHER, TIME]))).json()
    assert reply["usage"]["completion_tokens"] == 4


async def test_chat_parallel_tool_calls_false_calls_only_the_first_tool(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    body = chat(tools=[WEATHER, TIME], parallel_tool_calls=False)
    calls = (await call(session, llm_server, CHAT, body)).json()["choices"][0]["message"]
    assert [c["function"]["name"] for c in calls["tool_calls"]] == ["get_weather"]


async def test_chat_tool_choice_naming_a_function_calls_only_that_tool(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    choice = {"type": "function", "function": {"name": "get_time"}}
    body = chat(tools=[WEATHER, TIME], tool_choice=choice)
    calls = (await call(session, llm_server, CHAT, body)).json()["choices"][0]["message"]
    assert [(c["id"], c["function"]["name"]) for c in calls["tool_calls"]] == [
        ("call_0", "get_time")
    ]


async def test_chat_tool_choice_none_answers_in_text(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    body = chat("hi", tools=[WEATHER], tool_choice="none")
    choice = (await call(session, llm_server, CHAT, body)).json()["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Echo: hi", "refusal": None}
    assert choice["finish_reason"] == "stop"


async def test_chat_after_a_tool_result_answers_in_text(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    call_0 = {
        "id": "call_0",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"example"}'},
    }
    body = {
        "model": "gpt-4",
        "tools": [WEATHER],
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [call_0]},
            {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
        ],
    }
    choice = (await call(session, llm_server, CHAT, body)).json()["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Echo: weather?", "refusal": None}
    assert choice["finish_reason"] == "stop"


async def test_chat_stream_opens_each_tool_call_before_its_argument_fragments(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    raw = await stream(session, llm_server, chat(tools=[WEATHER, TIME], stream=True))
    role, first, second, *_ = deltas(raw.data)
    assert role == {"role": "assistant", "content": None}
    assert first == {
        "tool_calls": [
            {
                "index": 0,
                "id": "call_0",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ]
    }
    assert second["tool_calls"][0]["index"] == 1
    assert second["tool_calls"][0]["function"] == {"name": "get_time", "arguments": ""}


async def test_chat_stream_interleaves_the_argument_fragments_of_several_calls(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    raw = await stream(session, llm_server, chat(tools=[WEATHER, TIME], stream=True))
    fragments = [d["tool_calls"][0] for d in deltas(raw.data)[3:-1]]
    assert all(set(f) == {"index", "function"} for f in fragments)
    assert all(set(f["function"]) == {"arguments"} for f in fragments)
    assert [f["index"] for f in fragments[:4]] == [0, 1, 0, 1]
    joined = [
        "".join(f["function"]["arguments"] for f in fragments if f["index"] == i) for i in (0, 1)
    ]
    assert joined == ['{"city":"example","days":1}', '{"zone":"UTC"}']


async def test_chat_stream_of_tool_calls_finishes_with_reason_tool_calls(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    raw = await stream(session, llm_server, chat(tools=[WEATHER], stream=True))
    last = sse_json(raw.data)[-1]["choices"][0]
    assert (last["delta"], last["finish_reason"]) == ({}, "tool_calls")
    assert sse_data(raw.data)[-1] == "[DONE]"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": "get_weather"}, "tools"),
        ({"tools": []}, "tools"),
        ({"tools": [{"type": "retrieval"}]}, "tools.0"),
        ({"tools": [WEATHER, {"type": "function", "function": {}}]}, "tools.1"),
        ({"tools": [tool("f", parameters=[])]}, "tools.0"),
        ({"tools": [tool("f", {"$ref": "#/$defs/Missing"})]}, "tools.0.function.parameters"),
        ({"tools": [WEATHER], "tool_choice": "any"}, "tool_choice"),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "x"}}},
            "tool_choice",
        ),
        ({"tool_choice": "auto"}, "tool_choice"),
        ({"tools": [WEATHER], "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
    ],
    ids=[
        "tools-not-a-list",
        "tools-empty",
        "tool-not-a-function",
        "function-without-name",
        "parameters-not-an-object",
        "parameters-unresolvable-ref",
        "tool-choice-unknown",
        "tool-choice-names-no-tool",
        "tool-choice-without-tools",
        "parallel-not-a-boolean",
    ],
)
async def test_chat_rejects_unusable_tools_with_400_naming_the_field(
    llm_server: LLMServer, session: aiohttp.ClientSession, extra: dict[str, Any], param: str
) -> None:
    reply = await call(session, llm_server, CHAT, chat(**extra))
    assert reply.status == 400
    assert reply.json()["error"]["param"] == param


# --- structured output --------------------------------------------------------


def json_schema(schema: Any) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}


async def test_chat_json_object_reply_echoes_the_last_user_message_as_json(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    body = chat('say "hi"', response_format={"type": "json_object"})
    reply = (await call(session, llm_server, CHAT, body)).json()
    assert reply["choices"][0]["message"]["content"] == '{"echo":"say \\"hi\\""}'


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (
            {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "age": {"type": "integer"},
                    "score": {"type": "number"},
                    "ok": {"type": "boolean"},
                    "nothing": {"type": "null"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "inner": {"type": "object", "properties": {"x": {"type": "integer"}}},
                },
            },
            {
                "name": "example",
                "age": 1,
                "score": 1.5,
                "ok": True,
                "nothing": None,
                "tags": ["example"],
                "inner": {"x": 1},
            },
        ),
        ({"type": "string", "enum": ["red", "green"]}, "red"),
        ({"enum": [3, "x"]}, 3),
        ({"type": "string", "const": "fixed"}, "fixed"),
        ({"anyOf": [{"type": "null"}, {"type": "integer"}]}, 1),
        ({"oneOf": [{"type": "boolean"}, {"type": "string"}]}, True),
        ({"type": ["null", "string"]}, "example"),
        (
            {
                "$defs": {"Pet": {"enum": ["cat"]}},
                "type": "array",
                "items": {"$ref": "#/$defs/Pet"},
            },
            ["cat"],
        ),
        ({"definitions": {"N": {"type": "integer"}}, "$ref": "#/definitions/N"}, 1),
        (
            {
                "allOf": [
                    {"type": "object", "properties": {"a": {"type": "integer"}}},
                    {"type": "object", "properties": {"b": {"type": "boolean"}}},
                ]
            },
            {"a": 1, "b": True},
        ),
        ({"type": "array", "items": {"type": "integer"}, "minItems": 3}, [1, 1, 1]),
        (
            {"type": "array", "prefixItems": [{"type": "string"}, {"type": "null"}]},
            ["example", None],
        ),
        ({"type": "integer", "minimum": 5}, 5),
        ({"type": "integer", "exclusiveMaximum": 0}, -1),
        ({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}, 0.5),
        ({"type": "string", "format": "date-time"}, "2024-01-01T00:00:00Z"),
        ({"type": "string", "maxLength": 3}, "exa"),
        ({"type": "string", "minLength": 9}, "examplexx"),
        ({"properties": {"a": {}}}, {"a": None}),
        (
            {
                "$defs": {
                    "Node": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                        },
                        "required": ["name", "children"],
                    }
                },
                "$ref": "#/$defs/Node",
            },
            {"name": "example", "children": [{"name": "example", "children": []}]},
        ),
    ],
    ids=[
        "object-of-every-type",
        "enum",
        "enum-without-type",
        "const",
        "any-of-skips-null",
        "one-of-first",
        "type-list-skips-null",
        "defs-ref",
        "definitions-ref",
        "all-of-merged",
        "min-items",
        "prefix-items",
        "minimum",
        "exclusive-maximum",
        "number-between-exclusive-bounds",
        "date-time-format",
        "max-length",
        "min-length",
        "untyped-object",
        "recursive-tree-ends",
    ],
)
async def test_chat_json_schema_reply_is_the_compact_example_of_the_schema(
    llm_server: LLMServer, session: aiohttp.ClientSession, schema: Any, expected: Any
) -> None:
    body = chat(response_format=json_schema(schema))
    content = (await call(session, llm_server, CHAT, body)).json()["choices"][0]["message"]
    assert content["content"] == json.dumps(expected, separators=(",", ":"))


async def test_chat_json_schema_reply_streams_like_text(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}
    body = chat(response_format=json_schema(schema))
    plain = (await call(session, llm_server, CHAT, body)).json()["choices"][0]["message"]
    raw = await stream(session, llm_server, {**body, "stream": True})
    assert "".join(d.get("content") or "" for d in deltas(raw.data)) == plain["content"]


async def test_chat_tool_calls_take_precedence_over_a_response_format(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    body = chat(tools=[WEATHER], response_format={"type": "json_object"})
    choice = (await call(session, llm_server, CHAT, body)).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("response_format", "param"),
    [
        ({"type": "xml"}, "response_format"),
        ("json", "response_format"),
        ({"type": "json_schema"}, "response_format.json_schema"),
        (json_schema([]), "response_format.json_schema.schema"),
        (json_schema({"$ref": "#/$defs/Missing"}), "response_format.json_schema.schema"),
        (json_schema({"$ref": "other.json#/X"}), "response_format.json_schema.schema"),
        (
            json_schema({"type": "integer", "minimum": 3, "maximum": 2}),
            "response_format.json_schema.schema",
        ),
        (
            json_schema(
                {"type": "object", "properties": {"me": {"$ref": "#"}}, "required": ["me"]}
            ),
            "response_format.json_schema.schema",
        ),
    ],
    ids=[
        "unknown-type",
        "not-an-object",
        "no-json-schema",
        "schema-not-an-object",
        "unresolvable-ref",
        "remote-ref",
        "empty-number-range",
        "no-finite-instance",
    ],
)
async def test_chat_rejects_an_unusable_response_format_with_400(
    llm_server: LLMServer, session: aiohttp.ClientSession, response_format: Any, param: str
) -> None:
    reply = await call(session, llm_server, CHAT, chat(response_format=response_format))
    assert reply.status == 400
    assert reply.json()["error"]["param"] == param


# --- text completions ---------------------------------------------------------


async def test_completion_echoes_a_string_prompt(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = (await call(session, llm_server, COMPLETIONS, completion("Once upon"))).json()
    assert reply == {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1700000000,
        "model": "gpt-4",
        "choices": [
            {"text": " Echo: Once upon", "index": 0, "finish_reason": "stop", "logprobs": None}
        ],
        "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5},
        "system_fingerprint": "llmpipe-testing",
    }


async def test_completion_gives_one_choice_per_prompt_in_order(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = (await call(session, llm_server, COMPLETIONS, completion(["a", "b c"]))).json()
    assert [(c["index"], c["text"]) for c in reply["choices"]] == [
        (0, " Echo: a"),
        (1, " Echo: b c"),
    ]
    assert reply["usage"] == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}


async def test_completion_max_tokens_cuts_the_text_and_reports_length(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    body = completion("one two three", max_tokens=2)
    choice = (await call(session, llm_server, COMPLETIONS, body)).json()["choices"][0]
    assert (choice["text"], choice["finish_reason"]) == (" Echo: one", "length")


@pytest.mark.parametrize(
    "prompt", [None, 7, [], ["ok", 3]], ids=["missing", "int", "empty", "mixed"]
)
async def test_completion_rejects_a_prompt_that_is_not_text_with_400(
    llm_server: LLMServer, session: aiohttp.ClientSession, prompt: Any
) -> None:
    reply = await call(session, llm_server, COMPLETIONS, completion(prompt))
    assert reply.status == 400
    assert reply.json()["error"]["param"] == "prompt"


async def test_completion_unknown_model_is_404_model_not_found(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = await call(session, llm_server, COMPLETIONS, completion(model="nope"))
    assert (reply.status, reply.json()["error"]["code"]) == (404, "model_not_found")


# --- streaming ----------------------------------------------------------------


async def test_chat_stream_deltas_join_to_the_unstreamed_reply(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    content = "spaced  out\n words "
    plain = (await call(session, llm_server, CHAT, chat(content))).json()
    chunks = events(await call(session, llm_server, CHAT, chat(content, stream=True)))
    joined = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert joined == plain["choices"][0]["message"]["content"] == "Echo: " + content


async def test_chat_stream_opens_with_the_role_and_ends_with_the_finish_reason(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = await call(session, llm_server, CHAT, chat("a b c", stream=True, max_tokens=2))
    chunks = events(reply)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, None, "length"]
    assert {(c["id"], c["object"]) for c in chunks} == {("chatcmpl-1", "chat.completion.chunk")}
    assert reply.headers["x-request-id"] == "req-1"


async def test_chat_stream_sends_usage_only_when_asked(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    silent = events(await call(session, llm_server, CHAT, chat("hi", stream=True)))
    asked = chat("hi", stream=True, stream_options={"include_usage": True})
    counted = events(await call(session, llm_server, CHAT, asked))
    assert all("usage" not in chunk for chunk in silent)
    assert [chunk["usage"] for chunk in counted[:-1]] == [None] * (len(counted) - 1)
    assert counted[-1]["choices"] == []
    assert counted[-1]["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}


async def test_chat_stream_with_n_streams_every_choice(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    chunks = events(await call(session, llm_server, CHAT, chat("hi", n=2, stream=True)))
    finished = [c["choices"][0]["index"] for c in chunks if c["choices"][0]["finish_reason"]]
    assert finished == [0, 1]


async def test_completion_stream_texts_join_to_the_unstreamed_reply(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    chunks = events(await call(session, llm_server, COMPLETIONS, completion("go on", stream=True)))
    assert "".join(c["choices"][0]["text"] for c in chunks) == " Echo: go on"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert {c["object"] for c in chunks} == {"text_completion"}


async def test_fault_replaces_a_stream_with_its_reply(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(status=429))
    reply = await call(session, llm_server, CHAT, chat(stream=True))
    assert (reply.status, reply.json()["error"]["code"]) == (429, "rate_limit_exceeded")


async def test_stream_words_per_event_sends_that_many_words_per_content_event(
    session: aiohttp.ClientSession,
) -> None:
    async with LLMServer(stream_words_per_event=2) as server:
        raw = await stream(session, server, chat("a  b c", stream=True))
    assert [d.get("content") for d in deltas(raw.data)] == ["", "Echo: a", "  b c", None]


@pytest.mark.parametrize("count", [0, -1, 1.5, True])
def test_stream_words_per_event_must_be_a_positive_integer(count: Any) -> None:
    with pytest.raises(ValueError, match="stream_words_per_event"):
        LLMServer(stream_words_per_event=count)


async def test_stream_sends_non_ascii_text_as_utf8_not_escapes(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    raw = await stream(session, llm_server, chat("héllo", stream=True))
    assert "héllo".encode() in raw.data


# --- stream faults ------------------------------------------------------------

# Five events: the role, "Echo:", " one", " two", the finish reason; then [DONE].
STREAM = chat("one two", stream=True)


async def plain_stream(session: aiohttp.ClientSession, server: LLMServer) -> bytes:
    """The unfaulted STREAM as request 1 would get it; the server is reset after."""
    server.reset()
    data = (await stream(session, server, STREAM)).data
    server.reset()
    return data


async def test_error_after_events_replaces_the_rest_of_the_stream_with_an_error_event(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(error_after_events=2, status=429))
    raw = await stream(session, llm_server, STREAM)
    *chunks, error = sse_json(raw.data)
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": ""},
        {"content": "Echo:"},
    ]
    assert error == {
        "error": {
            "message": "Simulated stream fault: 429 Too Many Requests.",
            "type": "rate_limit_exceeded",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert "[DONE]" not in sse_data(raw.data)


ECHOED_KEY = "sk-echo-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {ECHOED_KEY}"}


async def test_echo_key_repeats_the_requests_key_in_a_json_error(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(status=401, echo_key=True))
    reply = await call(session, llm_server, CHAT, chat(), headers=BEARER)
    assert reply.status == 401
    assert json.loads(reply.text)["error"]["message"] == (
        f"Simulated fault: 401 Unauthorized. The request's key was {ECHOED_KEY}."
    )


async def test_echo_key_repeats_the_requests_key_in_a_streams_error_event(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(error_after_events=1, status=503, echo_key=True))
    raw = await stream(session, llm_server, STREAM, headers=BEARER)
    *_, error = sse_json(raw.data)
    assert error["error"]["message"] == (
        f"Simulated stream fault: 503 Service Unavailable. The request's key was {ECHOED_KEY}."
    )


async def test_echo_key_without_a_key_sent_echoes_nothing_after_the_words(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(status=500, echo_key=True))
    reply = await call(session, llm_server, CHAT, chat())
    assert json.loads(reply.text)["error"]["message"].endswith("The request's key was .")


async def test_split_echo_cuts_the_key_between_two_chunks_sent_apart(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    fault = Fault(error_after_events=2, status=503, echo_key=True, split_echo=True)
    llm_server.add_faults(fault)
    raw = await stream(session, llm_server, STREAM, headers=BEARER)
    key = ECHOED_KEY.encode()
    [first] = [i for i, piece in enumerate(raw.pieces) if piece.endswith(key[: len(key) // 2])]
    assert raw.pieces[first + 1].startswith(key[len(key) // 2 :])
    assert not [piece for piece in raw.pieces if key in piece]
    assert key in raw.data
    *_, error = sse_json(raw.data)
    assert error["error"]["message"].endswith(f"The request's key was {ECHOED_KEY}.")


async def test_error_after_events_ends_the_response_properly(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(error_after_events=1))
    raw = await stream(session, llm_server, STREAM)
    assert (raw.status, raw.truncated) == (200, False)


async def test_error_after_zero_events_makes_the_error_the_first_event(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(error_after_events=0))
    raw = await stream(session, llm_server, STREAM)
    assert [set(event) for event in sse_json(raw.data)] == [{"error"}]


@pytest.mark.parametrize(
    ("status", "type_", "code"),
    [
        (None, "server_error", None),
        (503, "server_error", None),
        (429, "rate_limit_exceeded", "rate_limit_exceeded"),
        (400, "invalid_request_error", None),
        (401, "invalid_request_error", "invalid_api_key"),
    ],
)
async def test_error_event_type_and_code_follow_the_status_as_openai_sends_them(
    llm_server: LLMServer,
    session: aiohttp.ClientSession,
    status: int | None,
    type_: str,
    code: str | None,
) -> None:
    llm_server.add_faults(Fault(error_after_events=0, status=status))
    error = sse_json((await stream(session, llm_server, STREAM)).data)[0]["error"]
    assert (error["type"], error["code"]) == (type_, code)


@pytest.mark.parametrize("status", [None, 503, 429])
async def test_error_event_code_is_the_int_status_in_the_vllm_style(
    llm_server: LLMServer, session: aiohttp.ClientSession, status: int | None
) -> None:
    llm_server.add_faults(Fault(error_after_events=0, status=status, int_error_code=True))
    error = sse_json((await stream(session, llm_server, STREAM)).data)[0]["error"]
    assert error["code"] == (status or 500)


def test_int_error_code_needs_an_error_event() -> None:
    with pytest.raises(ValueError, match="give error_after_events"):
        Fault(int_error_code=True)


async def test_drop_after_events_truncates_the_stream_after_that_many_events(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(drop_after_events=2))
    raw = await stream(session, llm_server, STREAM)
    assert raw.truncated
    assert [d.get("content") for d in deltas(raw.data)] == ["", "Echo:"]
    assert "[DONE]" not in sse_data(raw.data)


async def test_drop_after_zero_events_sends_only_the_status_and_headers(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(drop_after_events=0))
    raw = await stream(session, llm_server, STREAM)
    assert (raw.status, raw.headers["Content-Type"]) == (200, "text/event-stream")
    assert (raw.data, raw.truncated) == (b"", True)


async def test_an_event_count_past_the_last_chunk_acts_in_place_of_done(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(drop_after_events=99))
    raw = await stream(session, llm_server, STREAM)
    assert raw.truncated
    assert sse_json(raw.data)[-1]["choices"][0]["finish_reason"] == "stop"
    assert "[DONE]" not in sse_data(raw.data)


async def test_stall_after_events_holds_the_next_event_back_for_delay_seconds(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(stall_after_events=2, delay=0.3))
    started = time.monotonic()
    raw = await stream(session, llm_server, STREAM)
    assert raw.arrivals[2] - started >= 0.3
    assert sse_data(raw.data)[-1] == "[DONE]"


async def test_stall_after_zero_events_sends_the_headers_then_waits(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(stall_after_events=0, delay=0.5))
    url = llm_server.base_url + CHAT
    started = time.monotonic()
    async with session.post(url, json=STREAM) as response:
        headers_after = time.monotonic() - started
        await response.content.readchunk()
        first_event_after = time.monotonic() - started
    assert headers_after < 0.5 <= first_event_after


async def test_stall_sends_a_keepalive_comment_every_interval(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(stall_after_events=1, delay=0.35, keepalive_interval=0.1))
    raw = await stream(session, llm_server, STREAM)
    assert raw.pieces[1:4] == [b": keep-alive\n\n"] * 3
    assert b"keep-alive" not in b"".join(raw.pieces[4:])
    assert sse_data(raw.data) == sse_data(await plain_stream(session, llm_server))


async def test_a_stall_ends_at_once_when_the_server_stops(session: aiohttp.ClientSession) -> None:
    server = LLMServer()
    await server.start()
    server.add_faults(Fault(stall_after_events=1, delay=30))
    reading = asyncio.ensure_future(stream(session, server, STREAM))
    # Poll: nothing tells the test the stall has begun but the request's record.
    while not server.requests:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await server.stop()
    raw = await reading
    assert time.monotonic() - started < 1.0
    assert raw.truncated
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_chunk_size_writes_the_stream_in_pieces_of_that_many_bytes(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(chunk_size=5))
    raw = await stream(session, llm_server, STREAM)
    assert {len(piece) for piece in raw.pieces[:-1]} == {5}
    assert len(raw.pieces[-1]) in range(1, 6)
    assert raw.data == await plain_stream(session, llm_server)


async def test_chunk_size_pieces_run_across_event_boundaries(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(chunk_size=7))
    raw = await stream(session, llm_server, STREAM)
    assert any(b"\n\ndata" in piece for piece in raw.pieces)


async def test_chunk_size_one_splits_utf8_characters_and_crlf_pairs(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(chunk_size=1, line_ending="\r\n"))
    raw = await stream(session, llm_server, chat("é", stream=True))
    assert {len(piece) for piece in raw.pieces} == {1}
    pairs = list(itertools.pairwise(raw.pieces))
    assert ("é".encode()[:1], "é".encode()[1:]) in pairs
    assert (b"\r", b"\n") in pairs


@pytest.mark.parametrize("ending", ["\r\n", "\r"], ids=["crlf", "cr"])
async def test_line_ending_ends_every_line_of_the_stream(
    llm_server: LLMServer, session: aiohttp.ClientSession, ending: str
) -> None:
    llm_server.add_faults(Fault(line_ending=ending))
    raw = await stream(session, llm_server, STREAM)
    if ending == "\r":
        assert b"\n" not in raw.data
    assert raw.data.replace(ending.encode(), b"\n") == await plain_stream(session, llm_server)


async def test_sse_comments_add_comments_and_unknown_fields_but_no_events(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(sse_comments=True))
    raw = await stream(session, llm_server, STREAM)
    first_block = raw.data.split(b"data: ")[0]
    assert first_block == b": not an event\n\n: an event follows\nretry: 1000\nfoo: bar\nfoo\n"
    assert sse_data(raw.data) == sse_data(await plain_stream(session, llm_server))


async def test_multiline_data_spreads_each_json_over_lines_that_join_back_to_it(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(multiline_data=True))
    raw = await stream(session, llm_server, STREAM)
    assert raw.data.count(b"data: ") > 5 * len(sse_data(raw.data))
    assert sse_json(raw.data) == sse_json(await plain_stream(session, llm_server))


async def test_stream_fault_headers_come_with_the_stream(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(chunk_size=64, headers={"Retry-After": "3"}))
    raw = await stream(session, llm_server, STREAM)
    assert raw.headers["Retry-After"] == "3"


@pytest.mark.parametrize(
    "fault",
    [
        Fault(error_after_events=0, status=429),
        Fault(drop_after_events=0),
        Fault(stall_after_events=0, delay=30),
    ],
    ids=["error", "drop", "stall"],
)
async def test_a_non_streaming_request_consumes_a_stream_fault_and_is_answered_normally(
    llm_server: LLMServer, session: aiohttp.ClientSession, fault: Fault
) -> None:
    llm_server.add_faults(fault)
    plain = await call(session, llm_server, CHAT, chat("fine"))
    streamed = await stream(session, llm_server, STREAM)
    assert plain.json()["choices"][0]["message"]["content"] == "Echo: fine"
    assert sse_data(streamed.data)[-1] == "[DONE]"


# --- embeddings ---------------------------------------------------------------


async def test_embeddings_gives_one_unit_vector_per_input_in_order(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = (await call(session, llm_server, EMBEDDINGS, embedding(["a b", "c"]))).json()
    assert reply["object"] == "list"
    assert reply["model"] == "gpt-4"
    assert [(d["object"], d["index"]) for d in reply["data"]] == [
        ("embedding", 0),
        ("embedding", 1),
    ]
    for item in reply["data"]:
        assert len(item["embedding"]) == 8
        assert math.isclose(math.fsum(x * x for x in item["embedding"]), 1.0)
    assert reply["usage"] == {"prompt_tokens": 3, "total_tokens": 3}


async def test_embeddings_are_the_same_for_the_same_text_only(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = (await call(session, llm_server, EMBEDDINGS, embedding(["x", "y", "x"]))).json()
    first, second, third = (d["embedding"] for d in reply["data"])
    assert first == third
    assert first != second


async def test_embeddings_honour_dimensions(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = (await call(session, llm_server, EMBEDDINGS, embedding(dimensions=100))).json()
    assert len(reply["data"][0]["embedding"]) == 100


async def test_embeddings_base64_is_the_float32_vector(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    plain = (await call(session, llm_server, EMBEDDINGS, embedding())).json()
    packed = (
        await call(session, llm_server, EMBEDDINGS, embedding(encoding_format="base64"))
    ).json()
    raw = base64.b64decode(packed["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert decoded == pytest.approx(plain["data"][0]["embedding"], rel=1e-6)


@pytest.mark.parametrize("tokens", [[1, 2], [[1, 2], [3]]], ids=["token-array", "token-arrays"])
async def test_embeddings_accepts_token_arrays_as_the_spec_allows(
    llm_server: LLMServer, session: aiohttp.ClientSession, tokens: Any
) -> None:
    reply = (await call(session, llm_server, EMBEDDINGS, embedding(tokens))).json()
    assert len(reply["data"]) == (2 if isinstance(tokens[0], list) else 1)


@pytest.mark.parametrize(
    "body",
    [
        embedding(None),
        embedding([]),
        embedding([1, "two"]),
        embedding(dimensions=0),
        embedding(encoding_format="int8"),
    ],
    ids=["no-input", "empty-input", "mixed-input", "zero-dimensions", "unknown-encoding"],
)
async def test_embeddings_rejects_an_invalid_request_with_400(
    llm_server: LLMServer, session: aiohttp.ClientSession, body: Any
) -> None:
    reply = await call(session, llm_server, EMBEDDINGS, body)
    assert reply.status == 400
    assert reply.json()["error"]["type"] == "invalid_request_error"


async def test_embeddings_unknown_model_is_404_model_not_found(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = await call(session, llm_server, EMBEDDINGS, embedding(model="nope"))
    assert (reply.status, reply.json()["error"]["code"]) == (404, "model_not_found")


# --- models and routing -------------------------------------------------------


async def test_models_lists_the_default_models(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = (await call(session, llm_server, MODELS, method="GET")).json()
    assert reply["object"] == "list"
    assert [m["id"] for m in reply["data"]] == list(DEFAULT_MODELS)
    assert reply["data"][0] == {
        "id": "gpt-4",
        "object": "model",
        "created": 1700000000,
        "owned_by": "llmpipe",
    }


async def test_models_lists_the_models_given_to_the_server(session: aiohttp.ClientSession) -> None:
    async with LLMServer(models=["tiny-1"]) as server:
        reply = (await call(session, server, MODELS, method="GET")).json()
        refused = await call(session, server, CHAT, chat(model="gpt-4"))
    assert [m["id"] for m in reply["data"]] == ["tiny-1"]
    assert refused.status == 404


async def test_unknown_path_is_a_404_json_error(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = await call(session, llm_server, "/v1/nowhere", {})
    assert reply.status == 404
    assert reply.json()["error"]["type"] == "invalid_request_error"


async def test_wrong_method_is_a_405_json_error(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = await call(session, llm_server, CHAT, method="GET")
    assert reply.status == 405
    assert "error" in reply.json()


async def test_every_response_carries_a_request_id_counting_up(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(status=500))
    replies = [
        await call(session, llm_server, CHAT, chat()),
        await call(session, llm_server, CHAT, chat(model="nope")),
        await call(session, llm_server, MODELS, method="GET"),
    ]
    assert [r.headers["x-request-id"] for r in replies] == ["req-1", "req-2", "req-3"]
    assert [r.status for r in replies] == [500, 404, 200]


async def test_completion_ids_follow_the_request_number(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    await call(session, llm_server, MODELS, method="GET")
    chat_reply = await call(session, llm_server, CHAT, chat())
    text_reply = await call(session, llm_server, COMPLETIONS, completion())
    assert chat_reply.json()["id"] == "chatcmpl-2"
    assert text_reply.json()["id"] == "cmpl-3"


# --- API key ------------------------------------------------------------------


async def test_api_key_server_accepts_the_matching_bearer_token(
    session: aiohttp.ClientSession,
) -> None:
    async with LLMServer(api_key="sk-test") as server:
        reply = await call(
            session, server, CHAT, chat(), headers={"Authorization": "Bearer sk-test"}
        )
    assert reply.status == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sk-wrong-secret-4242"}, {"Authorization": "sk-test"}],
    ids=["missing", "wrong-key", "not-bearer"],
)
async def test_api_key_server_refuses_other_requests_with_401(
    session: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    async with LLMServer(api_key="sk-test") as server:
        reply = await call(session, server, MODELS, method="GET", headers=headers)
    assert reply.status == 401
    error = reply.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_api_key")
    assert reply.headers["x-request-id"] == "req-1"


async def test_api_key_error_does_not_echo_the_key_sent(session: aiohttp.ClientSession) -> None:
    async with LLMServer(api_key="sk-test") as server:
        reply = await call(
            session, server, CHAT, chat(), headers={"Authorization": "Bearer sk-wrong-secret-4242"}
        )
    assert "sk-wrong-secret-4242" not in reply.text
    assert "sk-test" not in reply.text


# --- faults -------------------------------------------------------------------


async def test_status_fault_sends_an_openai_style_error(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(status=429))
    reply = await call(session, llm_server, CHAT, chat())
    assert reply.status == 429
    assert reply.headers["Content-Type"].startswith("application/json")
    error = reply.json()["error"]
    assert (error["type"], error["param"], error["code"]) == (
        "requests",
        None,
        "rate_limit_exceeded",
    )
    assert error["message"]


async def test_server_error_fault_has_type_server_error(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(status=503))
    reply = await call(session, llm_server, CHAT, chat())
    assert (reply.status, reply.json()["error"]["type"]) == (503, "server_error")


async def test_fault_headers_come_with_the_error(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(status=429, headers={"Retry-After": "7"}))
    reply = await call(session, llm_server, CHAT, chat())
    assert reply.headers["Retry-After"] == "7"
    assert reply.headers["x-request-id"] == "req-1"


async def test_a_fault_is_consumed_by_one_request(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(status=500))
    first = await call(session, llm_server, CHAT, chat())
    second = await call(session, llm_server, CHAT, chat())
    assert (first.status, second.status) == (500, 200)


async def test_faults_apply_in_the_order_queued(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(status=502), Fault(status=503))
    llm_server.add_faults(Fault(status=504))
    statuses = [(await call(session, llm_server, CHAT, chat())).status for _ in range(4)]
    assert statuses == [502, 503, 504, 200]


async def test_concurrent_requests_consume_each_fault_exactly_once(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(*[Fault(status=503)] * 5)
    replies = await asyncio.gather(*(call(session, llm_server, CHAT, chat()) for _ in range(12)))
    assert sorted(r.status for r in replies) == [200] * 7 + [503] * 5


async def test_string_body_fault_is_sent_as_html(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    llm_server.add_faults(Fault(status=502, body=page))
    reply = await call(session, llm_server, CHAT, chat())
    assert (reply.status, reply.text) == (502, page)
    assert reply.headers["Content-Type"].startswith("text/html")


async def test_dict_body_fault_is_sent_as_json(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(status=400, body={"detail": "custom"}))
    reply = await call(session, llm_server, CHAT, chat())
    assert (reply.status, reply.json()) == (400, {"detail": "custom"})
    assert reply.headers["Content-Type"] == "application/json"


async def test_body_fault_without_status_is_sent_with_200(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(body={"unexpected": "shape"}))
    reply = await call(session, llm_server, CHAT, chat())
    assert (reply.status, reply.json()) == (200, {"unexpected": "shape"})


async def test_content_type_overrides_the_type_of_a_fault_body(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(status=500, body=b"oops", content_type="text/plain"))
    reply = await call(session, llm_server, CHAT, chat())
    assert (reply.text, reply.headers["Content-Type"]) == ("oops", "text/plain")


async def test_malformed_fault_sends_json_that_does_not_parse(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(malformed=True))
    reply = await call(session, llm_server, CHAT, chat())
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.text.startswith("{")
    with pytest.raises(json.JSONDecodeError):
        reply.json()


async def test_drop_fault_closes_the_connection_without_a_response(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(drop=True))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await call(session, llm_server, CHAT, chat())
    assert (await call(session, llm_server, CHAT, chat())).status == 200


async def test_delay_fault_stalls_past_a_client_timeout(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(delay=30))
    url = llm_server.base_url + CHAT
    with pytest.raises(asyncio.TimeoutError):
        async with session.post(url, json=chat(), timeout=aiohttp.ClientTimeout(total=0.2)):
            pass


async def test_delay_only_fault_answers_normally_once_the_delay_is_over(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(delay=0.3))
    started = time.monotonic()
    reply = await call(session, llm_server, CHAT, chat("late"))
    assert time.monotonic() - started >= 0.3
    assert reply.json()["choices"][0]["message"]["content"] == "Echo: late"


async def test_delay_applies_before_a_status_fault(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(status=503, delay=0.3))
    started = time.monotonic()
    reply = await call(session, llm_server, CHAT, chat())
    assert time.monotonic() - started >= 0.3
    assert reply.status == 503


async def test_headers_only_fault_answers_normally_with_the_headers_added(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(headers={"x-ratelimit-remaining-requests": "0"}))
    reply = await call(session, llm_server, CHAT, chat("fine"))
    assert reply.status == 200
    assert reply.json()["choices"][0]["message"]["content"] == "Echo: fine"
    assert reply.headers["x-ratelimit-remaining-requests"] == "0"


async def test_path_fault_lets_other_paths_through_without_being_consumed(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(status=500, path="/chat/completions"))
    models = await call(session, llm_server, MODELS, method="GET")
    text = await call(session, llm_server, COMPLETIONS, completion())
    chat_reply = await call(session, llm_server, CHAT, chat())
    assert (models.status, text.status, chat_reply.status) == (200, 200, 500)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"drop": True, "status": 500}, "drop excludes"),
        ({"drop": True, "headers": {"Retry-After": "1"}}, "drop excludes"),
        ({"malformed": True, "body": "x"}, "malformed supplies its own body"),
        ({"status": 500, "content_type": "text/plain"}, "content_type labels a body"),
        ({"status": 99}, "status must be"),
        ({"status": 600}, "status must be"),
        ({"delay": -1.0}, "delay"),
        ({"drop": True, "chunk_size": 1}, "drop excludes"),
        ({"status": 500, "chunk_size": 1}, "stream faults shape a streamed answer"),
        ({"body": "x", "sse_comments": True}, "stream faults shape a streamed answer"),
        ({"malformed": True, "line_ending": "\r"}, "stream faults shape a streamed answer"),
        ({"error_after_events": 1, "drop_after_events": 1}, "a stream ends once"),
        ({"error_after_events": 0, "status": 200}, "must be an error status"),
        ({"stall_after_events": 0}, "give a delay > 0"),
        ({"keepalive_interval": 1.0}, "keepalive_interval fills a stall"),
        ({"stall_after_events": 3, "drop_after_events": 2, "delay": 1}, "ends after 2 events"),
        ({"error_after_events": -1}, "error_after_events must be an integer >= 0"),
        ({"drop_after_events": True}, "drop_after_events must be an integer >= 0"),
        ({"stall_after_events": 1.5, "delay": 1}, "stall_after_events must be an integer"),
        ({"chunk_size": 0}, "chunk_size must be an integer >= 1"),
        ({"line_ending": "\n\n"}, "line_ending"),
        ({"stall_after_events": 0, "delay": 1, "keepalive_interval": 0}, "keepalive_interval"),
        ({"echo_key": True}, "echo_key puts the key in an error"),
        ({"status": 302, "echo_key": True}, "echo_key puts the key in an error"),
        ({"status": 500, "body": "x", "echo_key": True}, "echo_key puts the key in an error"),
        ({"status": 500, "malformed": True, "echo_key": True}, "echo_key puts the key"),
        ({"error_after_events": 1, "split_echo": True}, "split_echo cuts an echoed key"),
        ({"status": 500, "echo_key": True, "split_echo": True}, "stream faults shape"),
    ],
    ids=[
        "drop-and-status",
        "drop-and-headers",
        "malformed-and-body",
        "content-type-without-body",
        "status-low",
        "status-high",
        "negative-delay",
        "drop-and-stream-field",
        "status-reply-and-stream-field",
        "body-and-stream-field",
        "malformed-and-stream-field",
        "error-and-drop-after",
        "error-event-with-success-status",
        "stall-without-delay",
        "keepalive-without-stall",
        "stall-after-the-end",
        "negative-event-count",
        "boolean-event-count",
        "fractional-event-count",
        "zero-chunk-size",
        "unknown-line-ending",
        "zero-keepalive-interval",
        "echo-without-an-error",
        "echo-in-a-redirect",
        "echo-in-a-scripted-body",
        "echo-in-malformed-json",
        "split-without-echo",
        "split-without-an-error-event",
    ],
)
def test_fault_rejects_fields_it_could_not_honour(fields: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Fault(**fields)


def test_fault_keeps_its_own_copy_of_the_headers() -> None:
    headers = {"Retry-After": "1"}
    fault = Fault(status=429, headers=headers)
    headers["Retry-After"] = "99"
    assert fault.headers == {"Retry-After": "1"}


# --- recorded requests and reset ----------------------------------------------


async def test_requests_records_what_was_received(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    before = time.monotonic()
    await call(session, llm_server, CHAT, chat("hi"), headers={"X-Trace-Id": "t-1"})
    (recorded,) = llm_server.requests
    assert (recorded.method, recorded.path, recorded.json) == ("POST", CHAT, chat("hi"))
    assert recorded.headers["X-Trace-Id"] == "t-1"
    assert type(recorded.headers) is dict
    assert before <= recorded.received_at <= time.monotonic()


async def test_requests_records_a_body_that_is_not_json_as_none(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    await call(session, llm_server, CHAT, data=b"<xml/>")
    assert llm_server.requests[0].json is None


async def test_requests_records_faulted_and_dropped_requests_too(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(status=500), Fault(drop=True))
    await call(session, llm_server, CHAT, chat())
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await call(session, llm_server, CHAT, chat())
    assert len(llm_server.requests) == 2


async def test_requests_returns_a_copy(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    await call(session, llm_server, MODELS, method="GET")
    llm_server.requests.clear()
    assert len(llm_server.requests) == 1


async def test_reset_clears_faults_requests_and_numbering(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(status=500), Fault(status=500))
    await call(session, llm_server, CHAT, chat())
    llm_server.reset()
    reply = await call(session, llm_server, CHAT, chat())
    assert (reply.status, reply.headers["x-request-id"]) == (200, "req-1")
    assert len(llm_server.requests) == 1


# --- running on the caller's loop ---------------------------------------------


async def test_async_with_serves_on_the_running_loop(session: aiohttp.ClientSession) -> None:
    async with LLMServer() as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        reply = await call(session, server, MODELS, method="GET")
    assert reply.status == 200


async def test_start_and_stop_are_the_explicit_async_with(session: aiohttp.ClientSession) -> None:
    server = LLMServer()
    await server.start()
    try:
        reply = await call(session, server, MODELS, method="GET")
    finally:
        await server.stop()
    assert reply.status == 200
    with pytest.raises(RuntimeError):
        server.base_url  # noqa: B018 - the property raises when not running


async def test_a_stopped_server_refuses_connections(session: aiohttp.ClientSession) -> None:
    async with LLMServer() as server:
        base_url = server.base_url
    with pytest.raises(aiohttp.ClientConnectorError):
        async with session.get(base_url + MODELS):
            pass


async def test_starting_a_running_server_raises() -> None:
    async with LLMServer() as server:
        with pytest.raises(RuntimeError):
            await server.start()


async def test_stopping_a_server_that_never_started_does_nothing(
    session: aiohttp.ClientSession,
) -> None:
    server = LLMServer()
    await server.stop()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.port
    async with server:  # it starts and serves as if stop() had never been called
        reply = await call(session, server, MODELS, method="GET")
    assert reply.status == 200


async def test_stop_leaves_no_task_behind(session: aiohttp.ClientSession) -> None:
    async with LLMServer() as server:
        await call(session, server, MODELS, method="GET")
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_stop_disconnects_a_client_waiting_on_a_delay_at_once(
    session: aiohttp.ClientSession,
) -> None:
    server = LLMServer()
    await server.start()
    server.add_faults(Fault(delay=30))
    waiting = asyncio.ensure_future(call(session, server, CHAT, chat()))
    # Poll: the server has no "request received" hook, and needs none besides this test.
    while not server.requests:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await server.stop()
    assert time.monotonic() - started < 1.0
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await waiting
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_serve_forever_reports_its_url_and_stops_when_cancelled(
    session: aiohttp.ClientSession,
) -> None:
    server = LLMServer()
    urls: list[str] = []
    listening = asyncio.Event()

    def ready(url: str) -> None:
        urls.append(url)
        listening.set()

    serving = asyncio.ensure_future(server.serve_forever(ready=ready))
    await listening.wait()
    port = server.port
    reply = await call(session, server, MODELS, method="GET")
    serving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving
    assert urls == [f"http://127.0.0.1:{port}"]
    assert reply.status == 200
    with pytest.raises(aiohttp.ClientConnectorError):
        async with session.get(urls[0] + MODELS):
            pass


async def test_server_listens_on_loopback_by_default() -> None:
    async with LLMServer() as server:
        assert server.base_url.startswith("http://127.0.0.1:")


def test_base_url_brackets_an_ipv6_host() -> None:
    server = LLMServer(host="::1")  # the IPv6 loopback, which CI machines have
    with server.run_in_thread():
        assert server.base_url == f"http://[::1]:{server.port}"


# --- open connections ---------------------------------------------------------


async def test_connections_counts_each_open_client_connection(
    llm_server: LLMServer,
) -> None:
    assert llm_server.connections == 0
    async with aiohttp.ClientSession() as first, aiohttp.ClientSession() as second:
        await call(first, llm_server, MODELS, method="GET")
        await call(second, llm_server, MODELS, method="GET")
        assert await settles(lambda: llm_server.connections, 2)
    assert await settles(lambda: llm_server.connections, 0)


async def test_connections_counts_a_kept_alive_connection_between_requests(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    await call(session, llm_server, MODELS, method="GET")
    await call(session, llm_server, MODELS, method="GET")
    assert llm_server.connections == 1


async def test_connections_falls_when_a_client_leaves_a_stream_early(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(stall_after_events=1, delay=30))
    async with session.post(llm_server.base_url + CHAT, json=STREAM) as response:
        await response.content.readchunk()
        assert llm_server.connections == 1
    # The server's handler is still stalled; the count follows the socket, not the handler.
    assert await settles(lambda: llm_server.connections, 0)


async def test_connections_falls_when_the_server_drops_one(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    llm_server.add_faults(Fault(drop_after_events=1))
    await stream(session, llm_server, STREAM)
    assert await settles(lambda: llm_server.connections, 0)


async def test_connections_is_zero_once_the_server_has_stopped(
    session: aiohttp.ClientSession,
) -> None:
    async with LLMServer() as server:
        await call(session, server, MODELS, method="GET")
        assert server.connections == 1
    assert server.connections == 0


# --- running on a thread of its own -------------------------------------------


def test_run_in_thread_serves_a_sync_client() -> None:
    with LLMServer().run_in_thread() as server:
        request = urllib.request.Request(
            server.base_url + CHAT,
            data=json.dumps(chat("sync")).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as response:
            reply = json.load(response)
    assert reply["choices"][0]["message"]["content"] == "Echo: sync"


def test_run_in_thread_stops_the_server_on_exit() -> None:
    with LLMServer().run_in_thread() as server:
        url = server.base_url + MODELS
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url)


def test_run_in_thread_raises_in_the_caller_when_the_port_is_taken() -> None:
    with (
        LLMServer().run_in_thread() as first,
        pytest.raises(OSError, match="in use"),
        LLMServer(port=first.port).run_in_thread(),
    ):
        pass


async def test_run_in_thread_serves_an_async_client_on_another_loop(
    session: aiohttp.ClientSession,
) -> None:
    with LLMServer().run_in_thread() as server:
        server.add_faults(Fault(status=429))
        reply = await call(session, server, CHAT, chat())
    assert reply.status == 429


# --- the pytest fixture and the package ---------------------------------------


def test_fixture_yields_a_running_server_in_a_sync_test(llm_server: LLMServer) -> None:
    with urllib.request.urlopen(llm_server.base_url + MODELS) as response:
        assert response.status == 200
    assert [r.path for r in llm_server.requests] == [MODELS]


async def test_fixture_yields_a_running_server_in_an_async_test(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    reply = await call(session, llm_server, MODELS, method="GET")
    assert reply.status == 200


def test_package_exports_exactly_its_public_names() -> None:
    assert sorted(llmpipe.testing.__all__) == [
        "Chaos",
        "ChaosKind",
        "ChaosRecord",
        "DEFAULT_MODELS",
        "Fault",
        "Fleet",
        "LLMServer",
        "Latency",
        "RETRYABLE",
        "RecordedRequest",
    ]
    namespace: dict[str, object] = {}
    exec("from llmpipe.testing import *", namespace)
    del namespace["__builtins__"]
    assert set(namespace) == set(llmpipe.testing.__all__)
    for name, value in namespace.items():
        assert value is getattr(llmpipe.testing, name)


def test_package_does_not_import_pytest() -> None:
    root = Path(__file__).resolve().parents[1]
    code = "import sys, llmpipe.testing; sys.exit('pytest' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
