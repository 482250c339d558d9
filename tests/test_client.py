"""AsyncLLM's methods over loopback HTTP, including the spec's examples."""

import gc
import warnings

import attrs
import pytest

from llmpipe import (
    AsyncLLM,
    ChatCompletionResponse,
    ClientClosedError,
    CompletionResponse,
    LLMConfig,
    LLMConnectionError,
    LLMError,
    Message,
    Middleware,
    ModelsResponse,
)

MESSAGES = [
    Message(role="system", content="You are helpful."),
    Message(role="user", content="Hello!"),
]


async def test_spec_chat_completion_example(client):
    response = await client.chat_completion(MESSAGES)
    assert isinstance(response, ChatCompletionResponse)
    assert response.choices[0].message.content == "Echo: Hello!"
    assert response.choices[0].message.role == "assistant"
    # The server counts words: 3 + 1 in the prompt, "Echo: Hello!" in the reply.
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (4, 2, 6)


async def test_spec_text_completion_example(client):
    response = await client.completion(prompt="Once upon a time", max_tokens=100)
    assert isinstance(response, CompletionResponse)
    assert response.choices[0].text == " Echo: Once upon a time"


async def test_completion_with_a_list_of_prompts_returns_one_choice_each(client):
    response = await client.completion(["one", "two", "three"])
    assert [c.index for c in response.choices] == [0, 1, 2]


async def test_completion_rejects_a_prompt_that_is_not_text(client):
    with pytest.raises(TypeError, match="prompt must be a str, a list of str, a list of token ids"):
        await client.completion(42)


async def test_spec_list_models_example(client):
    models = await client.list_models()
    assert isinstance(models, ModelsResponse)
    assert "gpt-4" in [model.id for model in models.data]


async def test_spec_context_manager_closes_the_client(config):
    async with AsyncLLM(config) as llm:
        response = await llm.chat_completion(MESSAGES)
        assert response.choices[0].message.content == "Echo: Hello!"
    assert llm.closed
    assert llm.transport.closed


async def test_dict_messages_are_accepted(client):
    response = await client.chat_completion([{"role": "user", "content": "plain dict"}])
    assert response.choices[0].message.content == "Echo: plain dict"


@pytest.mark.parametrize(
    "messages",
    [[{"content": "no role"}], ["just text"], {"role": "user", "content": "not a list"}, []],
)
async def test_malformed_messages_are_rejected_before_sending(llm_server, client, messages):
    with pytest.raises((TypeError, ValueError), match="message"):
        await client.chat_completion(messages)
    assert llm_server.requests == []


def test_message_role_must_be_a_non_empty_string():
    with pytest.raises(ValueError, match=r"Message\.role"):
        Message(role="", content="x")


async def test_config_defaults_and_call_arguments_reach_the_body(llm_server, config):
    async with AsyncLLM(attrs.evolve(config, temperature=0.3, max_tokens=50)) as llm:
        await llm.chat_completion(MESSAGES)
        await llm.chat_completion(MESSAGES, temperature=0.0, max_tokens=5)
    first, second = (r.json for r in llm_server.requests)
    assert (first["model"], first["temperature"], first["max_tokens"]) == ("gpt-4", 0.3, 50)
    assert (second["temperature"], second["max_tokens"]) == (0.0, 5)
    assert first["messages"] == [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Hello!"},
    ]


async def test_kwargs_pass_through_into_the_json_body(llm_server, client):
    await client.chat_completion(MESSAGES, top_p=0.9, stop=["\n"], seed=7, n=2, user="u1")
    body = llm_server.requests[0].json
    assert (body["top_p"], body["stop"], body["seed"], body["n"], body["user"]) == (
        0.9,
        ["\n"],
        7,
        2,
        "u1",
    )


async def test_max_tokens_is_omitted_when_unset(llm_server, client):
    await client.chat_completion(MESSAGES)
    assert "max_tokens" not in llm_server.requests[0].json


async def test_per_call_model_overrides_the_config(llm_server, client):
    response = await client.chat_completion(MESSAGES, model="gpt-4o-mini")
    assert llm_server.requests[0].json["model"] == "gpt-4o-mini"
    assert response.model == "gpt-4o-mini"


async def test_per_call_options_are_not_sent_in_the_body(llm_server, client):
    await client.chat_completion(
        MESSAGES, timeout=5, max_retries=1, extra_headers={"X-Trace": "abc"}
    )
    request = llm_server.requests[0]
    assert not {"timeout", "max_retries", "extra_headers"} & set(request.json)
    assert request.headers["X-Trace"] == "abc"


async def test_config_headers_and_api_key_are_sent(llm_server, config):
    keyed = attrs.evolve(config, api_key="sk-1", extra_headers={"X-Team": "core"})
    async with AsyncLLM(keyed) as llm:
        await llm.list_models()
    headers = llm_server.requests[0].headers
    assert headers["Authorization"] == "Bearer sk-1"
    assert headers["X-Team"] == "core"
    assert headers["User-Agent"].startswith("llmpipe/")


async def test_base_url_ending_in_v1_is_not_doubled(llm_server, config):
    async with AsyncLLM(attrs.evolve(config, base_url=llm_server.base_url + "/v1/")) as llm:
        await llm.list_models()
    assert llm_server.requests[0].path == "/v1/models"


async def test_get_last_response_returns_the_last_completion(client):
    assert client.get_last_response() is None
    chat = await client.chat_completion(MESSAGES)
    assert client.get_last_response() is chat
    text = await client.completion("Once")
    assert client.get_last_response() is text
    await client.list_models()
    assert client.get_last_response() is text


async def test_get_request_count_counts_each_api_call(client):
    await client.chat_completion(MESSAGES)
    await client.completion("x")
    await client.list_models()
    assert client.get_request_count() == 3


async def test_reset_session_replaces_the_pool_and_clears_state(client):
    await client.chat_completion(MESSAGES)
    pool_before = client.transport._pools.current
    await client.reset_session()
    assert client.get_last_response() is None
    assert client.get_request_count() == 0
    await client.chat_completion(MESSAGES)
    assert client.transport._pools.current is not pool_before
    assert client.get_request_count() == 1


async def test_call_after_close_raises_a_clear_llm_error(config):
    llm = AsyncLLM(config)
    await llm.close()
    with pytest.raises(ClientClosedError, match=r"closed; create a new client"):
        await llm.chat_completion(MESSAGES)
    with pytest.raises(ClientClosedError):
        await llm.reset_session()
    assert issubclass(ClientClosedError, LLMError)


async def test_close_twice_is_harmless(config):
    llm = AsyncLLM(config)
    await llm.list_models()
    await llm.close()
    await llm.close()
    assert llm.closed


async def test_closed_client_leaves_no_warning_behind(config):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with AsyncLLM(config) as llm:
            await llm.chat_completion(MESSAGES)
        del llm
        gc.collect()
    assert caught == []


async def test_unclosed_async_client_warns_once_and_releases_its_pool(config, recwarn):
    llm = AsyncLLM(config)
    await llm.list_models()
    transport = llm.transport
    del llm
    gc.collect()
    mine = [w for w in recwarn if issubclass(w.category, ResourceWarning)]
    assert len(mine) == 1
    assert "unclosed AsyncLLM" in str(mine[0].message)
    assert not transport.holds_resources


async def test_construction_does_no_io():
    llm = AsyncLLM(LLMConfig(base_url="http://127.0.0.1:9", max_retries=0))
    assert not llm.transport.holds_resources
    with pytest.raises(LLMConnectionError):
        await llm.list_models(timeout=1)
    await llm.close()


async def test_close_also_closes_middlewares_that_have_an_async_close(config):
    closed = []

    class Holder(Middleware):
        async def __call__(self, request, call_next):
            return await call_next(request)

        async def close(self):
            closed.append(True)

    llm = AsyncLLM(config, middlewares=[Holder()])
    await llm.close()
    await llm.close()
    assert closed == [True]


def test_a_middleware_with_one_hook_but_not_the_protocol_is_rejected_when_built(config):
    class HalfHooked:
        async def __call__(self, request, call_next):
            return await call_next(request)

        async def close(self):
            pass

    with pytest.raises(TypeError, match=r"subclass llmpipe\.Middleware"):
        AsyncLLM(config, middlewares=[HalfHooked()])


async def test_bind_hands_each_hooked_middleware_the_transport_once(config):
    bound = []

    class Binder(Middleware):
        async def __call__(self, request, call_next):
            return await call_next(request)

        def bind(self, transport):
            bound.append(transport)

    async with AsyncLLM(config, middlewares=[Binder()]) as llm:
        assert bound == [llm.transport]
