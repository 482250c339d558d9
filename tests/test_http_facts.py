"""A successful reply carries the HTTP facts of its call: status, headers, request
id, elapsed time and attempts, on the reply and through get_last_response()."""

from __future__ import annotations

import pytest

from llmpipe import LLM, AsyncLLM, InternalServerError, LLMConfig, NotFoundError
from llmpipe.testing import Fault
from tests.conftest import FAST_RETRIES
from tests.wire_samples import USER


async def test_a_reply_carries_status_request_id_and_elapsed(client):
    reply = await client.chat_completion(USER)
    http = reply.http
    assert (http.status, http.request_id, http.attempts) == (200, "req-1", 1)
    assert 0 < http.elapsed < 5


async def test_a_reply_counts_the_attempts_retry_made(llm_server, client):
    llm_server.add_faults(Fault(status=503))
    reply = await client.chat_completion(USER)
    assert reply.http.attempts == 2


async def test_reply_headers_are_there_case_insensitively(llm_server, client):
    llm_server.add_faults(Fault(headers={"X-RateLimit-Remaining-Requests": "99"}))
    reply = await client.chat_completion(USER)
    assert reply.http.headers["x-ratelimit-remaining-requests"] == "99"


async def test_get_last_response_has_the_http_facts(client):
    reply = await client.completion("once")
    assert client.get_last_response().http is reply.http


async def test_a_stream_and_its_folded_reply_carry_the_http_facts(client):
    stream = await client.chat_completion(USER, stream=True)
    reply = await stream.collect()
    assert (stream.http.status, reply.http is stream.http) == (200, True)


async def test_embeddings_and_model_lists_carry_the_http_facts(client):
    embedded = await client.embeddings("x")
    models = await client.list_models()
    assert (embedded.http.endpoint, models.http.method) == ("embeddings", "GET")


def test_the_sync_client_gives_the_same_facts(llm_server):
    with LLM(LLMConfig(base_url=llm_server.base_url)) as llm:
        reply = llm.chat_completion(USER)
        assert llm.get_last_response().http.request_id == reply.http.request_id == "req-1"


async def test_a_reply_built_in_process_has_no_http_facts():
    from llmpipe import ChatCompletionResponse

    assert ChatCompletionResponse(choices=[]).http is None


# -- the generic call --------------------------------------------------------------


async def test_a_generic_call_returns_the_parsed_json_and_the_http_facts(client):
    reply = await client.request("GET", "models")
    assert (reply.json()["object"], reply.http.status) == ("list", 200)


async def test_a_generic_call_sends_its_json_body(llm_server, client):
    await client.request("POST", "chat/completions", json={"model": "gpt-4", "messages": USER})
    assert llm_server.requests[0].json == {"model": "gpt-4", "messages": USER}


async def test_a_generic_path_with_a_leading_slash_is_under_the_server_root(llm_server, client):
    with pytest.raises(NotFoundError):
        await client.request("POST", "/tokenize", json={"content": "x"})
    assert llm_server.requests[0].path == "/tokenize"


async def test_a_generic_call_goes_through_retry(llm_server, client):
    llm_server.add_faults(Fault(status=502))
    reply = await client.request("GET", "models")
    assert reply.http.attempts == 2


async def test_a_generic_call_is_counted(client):
    await client.request("GET", "models")
    assert client.get_request_count() == 1


async def test_a_generic_call_rejects_unknown_keywords(client):
    with pytest.raises(TypeError, match="json="):
        await client.request("POST", "tokenize", content="x")


def test_the_sync_client_has_the_generic_call(llm_server):
    with LLM(LLMConfig(base_url=llm_server.base_url, **FAST_RETRIES)) as llm:
        assert llm.request("GET", "/v1/models").json()["data"][0]["id"] == "gpt-4"


async def test_a_generic_call_takes_per_call_options(llm_server, config):
    llm_server.add_faults(Fault(status=503))
    async with AsyncLLM(config) as llm:
        with pytest.raises(InternalServerError):
            await llm.request("GET", "models", max_retries=0)
