"""The typed side channels: per-call options in, per-call facts out."""

from __future__ import annotations

import attrs
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from llmpipe import LLMConfig, LLMRequest, LLMResponse
from llmpipe.request import CALL_KEYWORDS, CallContext, CallOptions, new_request, new_response
from llmpipe.wire.build import call_settings


def test_call_keywords_are_the_option_fields_plus_the_call_settings():
    fields = {field.name for field in attrs.fields(CallOptions)} - {"deadline_at"}
    assert set(CALL_KEYWORDS) == fields | {"deadline", "timeout", "extra_headers"}


def test_options_given_as_a_mapping_become_call_options():
    request = LLMRequest("chat/completions", options={"max_retries": 1, "tag": "docs"})
    assert request.options == CallOptions(max_retries=1, tag="docs")


def test_an_unknown_option_is_refused_with_the_known_names():
    with pytest.raises(TypeError, match=r"unknown per-call option\(s\) \['max_retry'\]"):
        LLMRequest("chat/completions", options={"max_retry": 1})


async def test_call_settings_pops_every_call_keyword_and_leaves_body_fields():
    kwargs = {
        "max_retries": 2,
        "cache": False,
        "tag": "t",
        "timeout": 5.0,
        "deadline": 9.0,
        "extra_headers": {"X-A": "1"},
        "seed": 7,
    }
    settings = call_settings(LLMConfig(idempotency_header=None), kwargs, stream=True)
    assert kwargs == {"seed": 7}
    options = settings["options"]
    assert (options.max_retries, options.cache, options.tag) == (2, False, "t")
    assert options.first_event_timeout == 5.0  # a stream's first event: the call's timeout
    assert options.idle_timeout == LLMConfig().idle_timeout
    assert options.deadline_at is not None
    assert settings["headers"] == {"X-A": "1"}


def test_the_context_is_shared_by_evolved_copies_and_starts_at_one_attempt():
    request = LLMRequest("chat/completions")
    retried = attrs.evolve(request, timeout=1.0)
    retried.context.attempts = 3
    assert request.context is retried.context
    assert request.context == CallContext(attempts=3, cache=None)


def test_reply_headers_ignore_case_however_the_reply_was_made():
    request = LLMRequest("models", method="GET")
    response = LLMResponse.from_json(request, {}, headers={"X-Request-ID": "abc"})
    assert response.headers["x-request-id"] == "abc"
    assert LLMResponse(200, {"Retry-After": "2"}, b"", request).headers.get("retry-after") == "2"


def test_new_request_builds_the_request_init_builds_with_a_context_of_its_own():
    options = CallOptions(tag="t")
    built = new_request("chat/completions", {"model": "m"}, {"X-A": "1"}, 5.0, True, options)
    other = new_request("chat/completions", {"model": "m"}, {"X-A": "1"}, 5.0, True, options)
    expected = LLMRequest(
        "chat/completions",
        body={"model": "m"},
        headers={"X-A": "1"},
        timeout=5.0,
        stream=True,
        options=options,
    )
    assert (type(built), attrs.astuple(built, recurse=False)[:-1]) == (
        LLMRequest,
        attrs.astuple(expected, recurse=False)[:-1],
    )
    assert built.context == CallContext()
    assert built.context is not other.context


def test_a_request_new_request_built_stays_frozen():
    built = new_request("chat/completions", None, {}, None, False, CallOptions())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.timeout = 1.0  # type: ignore[misc]


def test_new_response_builds_the_response_init_builds_and_parses_on_demand():
    request = LLMRequest("chat/completions")
    headers = CIMultiDictProxy(CIMultiDict({"X-Request-Id": "r1"}))
    built = new_response(200, headers, b'{"ok": true}', request, 0.25)
    expected = LLMResponse(200, headers, b'{"ok": true}', request, 0.25)
    assert type(built) is LLMResponse
    assert built == expected
    assert (built.stream, built.byte_stream, built.elapsed) == (None, None, 0.25)
    assert built.json() == {"ok": True}
