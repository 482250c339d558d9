"""What a call puts in the request body: temperature that can be left out, one
token-limit name, token-array prompts."""

from __future__ import annotations

import attrs
import pytest

from llmpipe import OMIT, AsyncLLM, LLMConfig
from llmpipe.wire.build import generation_request

HI = [{"role": "user", "content": "hi"}]


async def sent(llm_server, config, call):
    async with AsyncLLM(config) as llm:
        await call(llm)
    return llm_server.requests[-1].json


async def test_the_default_temperature_is_the_spec_s(llm_server, config):
    body = await sent(llm_server, config, lambda llm: llm.chat_completion(HI))
    assert body["temperature"] == 0.7


async def test_a_config_without_temperature_sends_none(llm_server, config):
    config = attrs.evolve(config, temperature=None)
    body = await sent(llm_server, config, lambda llm: llm.chat_completion(HI))
    assert "temperature" not in body


async def test_a_call_can_leave_temperature_out(llm_server, config):
    body = await sent(llm_server, config, lambda llm: llm.chat_completion(HI, temperature=OMIT))
    assert "temperature" not in body


async def test_any_field_given_as_omit_is_left_out_even_the_config_s(llm_server, config):
    config = attrs.evolve(config, max_tokens=50)
    body = await sent(
        llm_server, config, lambda llm: llm.completion("x", max_tokens=OMIT, seed=OMIT)
    )
    assert ("max_tokens" in body, "seed" in body) == (False, False)


def test_omit_has_a_readable_repr_and_is_one_object():
    from llmpipe import Omit

    assert (repr(OMIT), Omit() is OMIT) == ("OMIT", True)


async def test_a_call_s_max_completion_tokens_replaces_the_config_s_max_tokens(llm_server, config):
    config = attrs.evolve(config, max_tokens=50)
    body = await sent(
        llm_server, config, lambda llm: llm.chat_completion(HI, max_completion_tokens=9)
    )
    assert (body.get("max_tokens"), body["max_completion_tokens"]) == (None, 9)


async def test_a_call_giving_both_token_limits_is_refused_before_sending(llm_server, client):
    with pytest.raises(ValueError, match="not both"):
        await client.chat_completion(HI, max_tokens=5, max_completion_tokens=9)
    assert llm_server.requests == []


async def test_the_config_switch_sends_max_tokens_as_max_completion_tokens(llm_server, config):
    config = attrs.evolve(config, max_tokens=50, max_tokens_field="max_completion_tokens")
    body = await sent(llm_server, config, lambda llm: llm.chat_completion(HI))
    assert (body.get("max_tokens"), body["max_completion_tokens"]) == (None, 50)


async def test_the_config_switch_also_renames_a_call_s_max_tokens(llm_server, config):
    config = attrs.evolve(config, max_tokens_field="max_completion_tokens")
    body = await sent(llm_server, config, lambda llm: llm.completion("x", max_tokens=3))
    assert (body.get("max_tokens"), body["max_completion_tokens"]) == (None, 3)


def test_the_config_switch_takes_only_the_two_names():
    with pytest.raises(ValueError, match="max_tokens_field must be one of"):
        LLMConfig(max_tokens_field="max_output_tokens")


@pytest.mark.parametrize(
    "prompt", [[1, 2, 3], [[1, 2], [3]], (4, 5)], ids=["tokens", "token-lists", "tuple"]
)
async def test_a_prompt_may_be_token_ids(llm_server, client, prompt):
    await client.completion(prompt)
    expected = [list(p) for p in prompt] if isinstance(prompt[0], list) else list(prompt)
    assert llm_server.requests[0].json["prompt"] == expected


async def test_embeddings_input_may_be_token_ids(llm_server, client):
    reply = await client.embeddings([[1, 2], [3]])
    assert (llm_server.requests[0].json["input"], len(reply.data)) == ([[1, 2], [3]], 2)


@pytest.mark.parametrize("prompt", [[1, "a"], [True], [-1], [[1], "a"], 42])
async def test_a_prompt_mixing_kinds_is_refused_before_sending(llm_server, client, prompt):
    with pytest.raises(TypeError, match="list of token ids"):
        await client.completion(prompt)
    assert llm_server.requests == []


def _built(config, temperature, max_tokens, kwargs):
    request = generation_request(
        config, "chat/completions", "messages", list(HI), temperature, max_tokens, False, kwargs
    )
    return request.body, sorted(request.headers), request.timeout, request.options, request.stream


_CONFIGS = [
    {},
    {"temperature": None, "max_tokens": None},
    {"temperature": 0.3, "max_tokens": 9, "max_tokens_field": "max_completion_tokens"},
    {"idempotency_header": None},
]


@pytest.mark.parametrize("settings", _CONFIGS)
@pytest.mark.parametrize("temperature", [None, 0.7, 1, OMIT])
@pytest.mark.parametrize("max_tokens", [None, 256, OMIT])
def test_the_usual_call_s_branch_builds_what_the_general_one_builds(
    config, settings, temperature, max_tokens
):
    config = attrs.evolve(config, **settings)
    usual = _built(config, temperature, max_tokens, {})
    general = _built(config, temperature, max_tokens, {"extra_body": {}})  # the general branch
    assert usual == general


@pytest.mark.parametrize(
    ("temperature", "max_tokens"), [(2.5, None), (-1.0, None), (None, 0), ("1", None)]
)
def test_the_usual_call_s_branch_refuses_what_the_general_one_refuses(
    config, temperature, max_tokens
):
    errors = []
    for kwargs in ({}, {"extra_body": {}}):
        with pytest.raises((TypeError, ValueError)) as caught:
            _built(config, temperature, max_tokens, kwargs)
        errors.append((type(caught.value), str(caught.value)))
    assert errors[0] == errors[1]
