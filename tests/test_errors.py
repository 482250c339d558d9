"""Each error class from a real reply of the bundled server."""

import json
import pickle

import attrs
import pytest

import llmpipe
from llmpipe import (
    AsyncLLM,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    LLMAPIError,
    LLMConnectionError,
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from llmpipe.testing import Fault

HELLO = [{"role": "user", "content": "hello"}]


def test_tree_matches_the_design():
    assert issubclass(LLMConnectionError, LLMError)
    assert issubclass(LLMTimeoutError, LLMConnectionError)
    assert issubclass(LLMAPIError, LLMError)
    assert issubclass(LLMResponseError, LLMError)
    assert issubclass(llmpipe.ClientClosedError, LLMError)
    for cls in (BadRequestError, AuthenticationError, RateLimitError, InternalServerError):
        assert issubclass(cls, LLMAPIError)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, LLMAPIError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, InternalServerError),
        (504, InternalServerError),
    ],
)
async def test_status_maps_to_its_class_with_status_body_and_request_id(
    llm_server, config, status, cls
):
    llm_server.add_faults(Fault(status=status))
    async with AsyncLLM(attrs.evolve(config, max_retries=0)) as llm:
        with pytest.raises(cls) as caught:
            await llm.chat_completion(HELLO)
    error = caught.value
    assert type(error) is cls
    assert error.status_code == status
    assert isinstance(error.body, dict)
    assert "error" in error.body
    assert error.request_id is not None
    assert error.request_id.startswith("req-")
    assert error.request_id in str(error)


async def test_html_error_page_from_a_proxy_gives_readable_snippet(llm_server, config):
    page = (
        "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
    )
    llm_server.add_faults(Fault(status=502, body=page))
    async with AsyncLLM(attrs.evolve(config, max_retries=0)) as llm:
        with pytest.raises(InternalServerError) as caught:
            await llm.chat_completion(HELLO)
    assert caught.value.body == page
    assert "502 Bad Gateway" in str(caught.value)
    assert "<" not in str(caught.value)


async def test_unknown_model_is_a_not_found_error_from_the_server(client):
    with pytest.raises(NotFoundError) as caught:
        await client.chat_completion(HELLO, model="no-such-model")
    assert caught.value.status_code == 404


async def test_non_json_success_body_raises_response_error(llm_server, client):
    llm_server.add_faults(Fault(malformed=True))
    with pytest.raises(LLMResponseError, match="not JSON"):
        await client.chat_completion(HELLO)


async def test_success_body_missing_choices_names_the_field(llm_server, client):
    llm_server.add_faults(Fault(status=200, body={"id": "x", "object": "chat.completion"}))
    with pytest.raises(LLMResponseError, match=r"choices") as caught:
        await client.chat_completion(HELLO)
    assert caught.value.body == {"id": "x", "object": "chat.completion"}


async def test_success_body_with_wrong_types_names_the_nested_field(llm_server, client):
    bad = {"choices": [{"message": {"role": "assistant", "content": {"nested": 1}}}]}
    llm_server.add_faults(Fault(status=200, body=bad))
    with pytest.raises(LLMResponseError, match=r"choices\[0\]\.message\.content"):
        await client.chat_completion(HELLO)


async def test_success_body_that_is_a_json_list_raises_response_error(llm_server, client):
    llm_server.add_faults(Fault(status=200, body="[1, 2]", content_type="application/json"))
    with pytest.raises(LLMResponseError, match="expected a JSON object"):
        await client.chat_completion(HELLO)


async def test_unknown_fields_from_newer_servers_are_tolerated(llm_server, client):
    reply = {
        "choices": [{"message": {"role": "assistant", "content": "hi", "refusal": None}}],
        "service_tier": "default",
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2, "details": {}},
    }
    llm_server.add_faults(Fault(status=200, body=reply))
    response = await client.chat_completion(HELLO)
    assert response.choices[0].message.content == "hi"
    assert response.usage is not None
    assert response.usage.total_tokens == 2


async def test_dropped_connection_is_a_connection_error(llm_server, config):
    llm_server.add_faults(Fault(drop=True))
    async with AsyncLLM(attrs.evolve(config, max_retries=0)) as llm:
        with pytest.raises(LLMConnectionError, match="closed the connection"):
            await llm.chat_completion(HELLO)


def test_api_errors_survive_pickling_for_multiprocessing():
    error = RateLimitError("slow down", status_code=429, body={"e": 1}, request_id="r1")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is RateLimitError
    assert (copy.status_code, copy.body, copy.request_id) == (429, {"e": 1}, "r1")


@pytest.mark.parametrize(
    ("error", "raised", "status"),
    [
        ({"type": "server_error", "code": 503}, InternalServerError, 503),  # vLLM: an int code
        ({"type": "rate_limit_exceeded"}, RateLimitError, 429),  # OpenAI: only a type
        ({"type": "invalid_request_error", "code": None}, BadRequestError, 400),
        ({"type": "overloaded_error"}, InternalServerError, 503),
        ({"code": "rate_limit_exceeded"}, RateLimitError, 429),  # a type's name as the code
        ({"code": 200, "type": "authentication_error"}, AuthenticationError, 401),
        ({}, InternalServerError, 500),
    ],
    ids=["int-code", "type-only", "null-code", "overloaded", "string-code", "bad-code", "bare"],
)
async def test_an_error_event_maps_by_its_int_code_then_its_type(
    llm_server, config, error, raised, status
):
    event = {"error": {"message": "went wrong", **error}}
    body = b"data: " + json.dumps(event).encode() + b"\n\n"
    llm_server.add_faults(Fault(body=body, content_type="text/event-stream"))
    async with AsyncLLM(attrs.evolve(config, max_retries=0)) as llm:
        with pytest.raises(raised) as caught:
            stream = await llm.chat_completion(HELLO, stream=True)
            await stream.collect()
    assert caught.value.status_code == status
    assert "error event in stream: went wrong" in str(caught.value)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ({"message": "x", "type": None, "code": "429"}, 429),  # LiteLLM
        ({"message": "x", "code": 503}, 503),  # vLLM, llama.cpp
        ({"message": "x", "type": "invalid_request_error", "code": "invalid_api_key"}, 401),
        ({"message": "x", "type": "invalid_request_error", "code": "model_not_found"}, 404),
        ({"message": "x", "type": "rate_limit_exceeded", "code": None}, 429),
        ({"message": "x", "type": "server_error", "code": None}, 500),
        ({"message": "x", "code": "4O4"}, 500),
    ],
)
def test_a_stream_error_event_maps_its_code_or_type_to_a_status(error, status):
    from llmpipe.errors import api_error_from_event

    assert api_error_from_event({"error": error}, "chat/completions").status_code == status


def test_a_bare_error_object_from_an_error_line_maps_too():
    """An ``error:`` field line or ``event: error`` carries the error object itself."""
    from llmpipe.errors import api_error_from_event

    error = api_error_from_event({"code": 400, "message": "too long"}, "completions")
    assert (error.status_code, "too long" in str(error)) == (400, True)
