"""The cache key: one canonical name per request, however its JSON is spelled."""

import hashlib
import json

import attrs
import pytest

from llmpipe import LLMRequest
from llmpipe.middleware.cache import cache_key
from llmpipe.middleware.cache.key import canonical_json
from llmpipe.middleware.cache.policy import deterministic, wants_cache

MESSAGES = [{"role": "user", "content": "hello"}]


def chat(**body):
    return LLMRequest("chat/completions", body={"model": "gpt-4", "messages": MESSAGES, **body})


def test_key_is_the_version_then_the_sha256_hex_digest_of_the_canonical_json():
    request = chat(temperature=0)
    canonical = (
        b'{"body":{"messages":[{"content":"hello","role":"user"}],"model":"gpt-4",'
        b'"temperature":0},"endpoint":"chat/completions","method":"POST","stream":false}'
    )
    assert canonical_json(request) == canonical
    assert cache_key(request) == "v2:" + hashlib.sha256(canonical).hexdigest()


def test_key_order_in_the_body_does_not_change_the_key():
    one = LLMRequest("chat/completions", body={"model": "m", "messages": MESSAGES, "seed": 1})
    two = LLMRequest("chat/completions", body={"seed": 1, "messages": MESSAGES, "model": "m"})
    assert cache_key(one) == cache_key(two)


def test_key_order_inside_nested_objects_does_not_change_the_key():
    one = chat(
        response_format={"type": "json_schema", "json_schema": {"name": "a", "strict": True}}
    )
    two = chat(
        response_format={"json_schema": {"strict": True, "name": "a"}, "type": "json_schema"}
    )
    assert cache_key(one) == cache_key(two)


def test_floats_parsed_from_differently_written_json_give_one_key():
    one = chat(**json.loads('{"temperature": 0.7, "top_p": 1}'))
    two = chat(**json.loads('{"temperature": 0.70, "top_p": 1.0}'))
    assert cache_key(one) == cache_key(two)


def test_a_whole_float_is_written_as_an_integer():
    written = json.loads(canonical_json(chat(temperature=1.0)))["body"]["temperature"]
    assert written == 1
    assert type(written) is int
    assert cache_key(chat(temperature=0.0)) == cache_key(chat(temperature=0))


def test_a_boolean_is_not_the_integer_one():
    assert cache_key(chat(logprobs=True)) != cache_key(chat(logprobs=1))


def test_different_parameters_give_different_keys():
    keys = {
        cache_key(chat(temperature=0)),
        cache_key(chat(temperature=0.1)),
        cache_key(chat(temperature=0, max_tokens=5)),
        cache_key(chat(temperature=0, model="gpt-4o-mini")),
        cache_key(chat(temperature=0, messages=[{"role": "user", "content": "hello!"}])),
    }
    assert len(keys) == 5


def test_endpoint_method_and_stream_flag_are_part_of_the_key():
    body = {"model": "gpt-4", "prompt": "hi"}
    keys = {
        cache_key(LLMRequest("completions", body=body)),
        cache_key(LLMRequest("chat/completions", body=body)),
        cache_key(LLMRequest("completions", method="PUT", body=body)),
        cache_key(LLMRequest("completions", body=body, stream=True)),
    }
    assert len(keys) == 4


def test_headers_and_the_api_key_are_not_part_of_the_key():
    plain = chat(temperature=0)
    with_headers = attrs.evolve(
        plain,
        headers={"Authorization": "Bearer sk-secret", "Idempotency-Key": "abc123"},
    )
    assert cache_key(with_headers) == cache_key(plain)
    assert b"sk-secret" not in canonical_json(with_headers)


def test_per_call_options_are_not_part_of_the_key():
    plain = chat(temperature=0)
    with_options = attrs.evolve(plain, options={"max_retries": 0, "cache": True}, timeout=3.0)
    assert cache_key(with_options) == cache_key(plain)


def test_tuples_and_lists_give_one_key():
    assert cache_key(chat(stop=("a", "b"))) == cache_key(chat(stop=["a", "b"]))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"temperature": 0}, True),
        ({"temperature": 0.0}, True),
        ({"temperature": 0.7, "seed": 42}, True),
        ({"temperature": 0.7}, False),
        ({}, False),
        ({"temperature": False}, False),
    ],
)
def test_default_policy_caches_only_deterministic_requests(body, expected):
    assert deterministic(chat(**body)) is expected


def test_default_policy_caches_embeddings_which_never_sample():
    assert deterministic(LLMRequest("embeddings", body={"model": "m", "input": "x"}))


@pytest.mark.parametrize(("option", "expected"), [(True, True), (False, False)])
def test_the_cache_option_overrides_the_policy(option, expected):
    sampled = attrs.evolve(chat(temperature=0.7), options={"cache": option})
    greedy = attrs.evolve(chat(temperature=0), options={"cache": option})
    assert wants_cache(sampled, deterministic) is expected
    assert wants_cache(greedy, deterministic) is expected
