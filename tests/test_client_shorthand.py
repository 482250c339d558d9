"""``LLM("http://...")`` and ``LLM(base_url=..., api_key=..., model=...)`` are
short for an LLMConfig; other forms are refused with the call that works."""

from __future__ import annotations

import attrs
import pytest

from llmpipe import LLM, AsyncLLM, LLMConfig
from llmpipe.testing import LLMServer

HI = [{"role": "user", "content": "hi"}]
KEY = "sk-shorthand-secret-123"


def test_a_url_string_first_is_the_base_url(llm_server):
    with LLM(llm_server.base_url + "/v1", max_retries=0) as llm:
        reply = llm.chat_completion(HI)
    assert (reply.choices[0].message.role, llm.config.max_retries) == ("assistant", 0)


async def test_the_openai_style_keywords_make_the_config():
    async with LLMServer(api_key=KEY) as server:
        url = server.base_url + "/v1"
        async with AsyncLLM(base_url=url, api_key=KEY, model="llama-3-8b-instruct") as llm:
            await llm.chat_completion(HI)
        sent = server.requests[-1]
    assert (sent.headers["Authorization"], sent.json["model"]) == (
        f"Bearer {KEY}",
        "llama-3-8b-instruct",
    )


def test_every_config_field_is_accepted_as_a_keyword():
    defaults = LLMConfig()
    settings = {field.name: getattr(defaults, field.name) for field in attrs.fields(LLMConfig)}
    assert AsyncLLM(**settings).config == defaults


@pytest.mark.parametrize("client", [LLM, AsyncLLM])
def test_a_config_and_settings_together_are_refused_with_the_evolve_call(client):
    name = client.__name__
    with pytest.raises(TypeError) as raised:
        client(LLMConfig(), api_key=KEY, model="m")
    message = str(raised.value)
    assert f"{name}(attrs.evolve(config, api_key=..., model=...))" in message
    assert KEY not in message


@pytest.mark.parametrize("given", [42, {"base_url": "http://h"}, ("http://h",)])
def test_something_else_first_is_refused_with_the_right_call(given):
    with pytest.raises(TypeError) as raised:
        LLM(given)
    assert "LLM('http://127.0.0.1:8000/v1', api_key=..., model=...)" in str(raised.value)
    assert f"got {type(given).__name__}" in str(raised.value)


def test_the_url_given_twice_is_refused():
    with pytest.raises(TypeError, match="base URL twice"):
        AsyncLLM("http://a", base_url="http://b")


def test_an_unknown_setting_suggests_the_field_without_showing_the_value():
    with pytest.raises(TypeError) as raised:
        LLM(api_keys=KEY)
    assert "unknown setting api_keys=; did you mean api_key=?" in str(raised.value)
    assert KEY not in str(raised.value)


def test_openai_s_default_headers_points_to_extra_headers():
    with pytest.raises(TypeError, match="did you mean extra_headers="):
        AsyncLLM(default_headers={"X-A": "1"})


def test_a_bad_setting_value_fails_as_in_llmconfig():
    with pytest.raises(ValueError, match=r"^LLMConfig\.timeout must be"):
        LLM("http://h", timeout=-1)


def test_the_key_given_as_a_keyword_never_shows_in_repr():
    client = AsyncLLM("http://h:1/v1", api_key=KEY)
    assert KEY not in repr(client)
    assert "api_key='***'" in repr(client)


def test_a_key_given_where_the_url_goes_is_refused_without_showing_it():
    with pytest.raises(TypeError, match="takes a base URL first") as raised:
        LLM(KEY)
    assert KEY not in str(raised.value)


def test_a_key_given_where_the_middlewares_go_is_refused_without_showing_it():
    with pytest.raises(TypeError, match="middlewares must be a list") as raised:
        AsyncLLM("http://h:1", KEY)
    assert KEY not in str(raised.value)
