"""Tests of llmpipe.testing: the bundled OpenAI-compatible server, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Mapping
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
                "message": {"role": "assistant", "content": "Echo: Hello there"},
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


@pytest.mark.parametrize(
    "body",
    [
        embedding(None),
        embedding([]),
        embedding([1, 2]),
        embedding(dimensions=0),
        embedding(encoding_format="int8"),
    ],
    ids=["no-input", "empty-input", "token-input", "zero-dimensions", "unknown-encoding"],
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
    ],
    ids=[
        "drop-and-status",
        "drop-and-headers",
        "malformed-and-body",
        "content-type-without-body",
        "status-low",
        "status-high",
        "negative-delay",
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


async def test_stopping_a_server_that_never_started_does_nothing() -> None:
    await LLMServer().stop()


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
    server = LLMServer(host="::1")
    try:
        with server.run_in_thread():
            assert server.base_url == f"http://[::1]:{server.port}"
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")


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
        "DEFAULT_MODELS",
        "Fault",
        "LLMServer",
        "RecordedRequest",
    ]
    for name in llmpipe.testing.__all__:
        assert getattr(llmpipe.testing, name) is not None


def test_package_does_not_import_pytest() -> None:
    root = Path(__file__).resolve().parents[1]
    code = "import sys, llmpipe.testing; sys.exit('pytest' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
