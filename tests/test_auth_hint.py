"""A 401, from the bundled server or any other, says where the API key comes
from, and never shows the key."""

from __future__ import annotations

import pytest

from llmpipe import AsyncLLM, AuthenticationError, LLMConfig, PermissionDeniedError
from llmpipe.testing import Fault, LLMServer

HI = [{"role": "user", "content": "hi"}]
WRONG = "sk-wrong-key-0123456789"
WHERE = ("api_key=", "LLMPIPE_API_KEY", "OPENAI_API_KEY", "LLMConfig.from_env()")


async def test_a_wrong_key_s_401_says_where_the_key_comes_from():
    async with LLMServer(api_key="sk-right") as server:
        config = LLMConfig(base_url=server.base_url, api_key=WRONG)
        async with AsyncLLM(config) as llm:
            with pytest.raises(AuthenticationError) as raised:
                await llm.chat_completion(HI)
    message = str(raised.value)
    assert all(place in message for place in WHERE), message
    assert WRONG not in message


async def test_a_missing_key_s_401_says_where_the_key_comes_from():
    server = LLMServer(api_key="sk-right")
    async with server, AsyncLLM(LLMConfig(base_url=server.base_url)) as llm:
        with pytest.raises(AuthenticationError) as raised:
            await llm.list_models()
    assert all(place in str(raised.value) for place in WHERE)


async def test_another_server_s_401_page_gets_the_hint_too(llm_server, config):
    llm_server.add_faults(Fault(status=401, body="<html><h1>401 Authorization Required</h1>"))
    async with AsyncLLM(config) as llm:
        with pytest.raises(AuthenticationError) as raised:
            await llm.chat_completion(HI)
    assert "401 Authorization Required (check the API key: give api_key=" in str(raised.value)


async def test_a_key_the_server_echoes_stays_masked_next_to_the_hint(llm_server, config):
    llm_server.add_faults(Fault(status=401, echo_key=True))
    async with AsyncLLM(LLMConfig(base_url=llm_server.base_url, api_key=WRONG)) as llm:
        with pytest.raises(AuthenticationError) as raised:
            await llm.chat_completion(HI)
    assert "OPENAI_API_KEY" in str(raised.value)
    assert WRONG not in str(raised.value)
    assert WRONG not in repr(raised.value.body)


async def test_a_401_error_event_in_a_stream_gets_the_hint(llm_server, config):
    llm_server.add_faults(Fault(error_after_events=0, status=401))
    async with AsyncLLM(config) as llm:
        with pytest.raises(AuthenticationError) as raised:
            stream = await llm.chat_completion(HI, stream=True)
            await stream.collect()
    assert "error event in stream" in str(raised.value)
    assert "LLMPIPE_API_KEY" in str(raised.value)


async def test_other_statuses_get_no_key_hint(llm_server, config):
    llm_server.add_faults(Fault(status=403))
    async with AsyncLLM(config) as llm:
        with pytest.raises(PermissionDeniedError) as raised:
            await llm.chat_completion(HI)
    assert "API_KEY" not in str(raised.value)
