"""Local servers on a Unix domain socket: ``LLMConfig(unix_socket=path)``, with
``base_url`` giving the Host header and the path prefix."""

from __future__ import annotations

import pytest

from llmpipe import AsyncLLM, LLMConfig, LLMConnectionError
from llmpipe.testing import LLMServer

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def socket_path(tmp_path_factory) -> str:
    # A short path: Unix socket paths are limited to about 100 bytes.
    return str(tmp_path_factory.mktemp("uds") / "llm.sock")


@pytest.fixture
def unix_server(socket_path):
    with LLMServer(unix_socket=socket_path).run_in_thread() as server:
        yield server


async def test_a_call_goes_over_the_unix_socket(unix_server, socket_path):
    config = LLMConfig(base_url="http://localhost", unix_socket=socket_path)
    async with AsyncLLM(config) as llm:
        reply = await llm.chat_completion(HELLO)
        models = await llm.list_models()
    assert reply.choices[0].message.content == "Echo: hello"
    assert models.data
    assert [r.path for r in unix_server.requests] == ["/v1/chat/completions", "/v1/models"]
    assert unix_server.requests[0].headers["Host"] == "localhost"


async def test_a_stream_goes_over_the_unix_socket(unix_server, socket_path):
    config = LLMConfig(base_url="http://localhost", unix_socket=socket_path)
    async with AsyncLLM(config) as llm:
        stream = await llm.chat_completion([{"role": "user", "content": "a b c"}], stream=True)
        reply = await stream.collect()
    assert reply.choices[0].message.content == "Echo: a b c"


async def test_proxy_variables_do_not_apply_to_a_unix_socket(unix_server, socket_path, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    config = LLMConfig(base_url="http://localhost", unix_socket=socket_path)
    async with AsyncLLM(config) as llm:
        assert (await llm.chat_completion(HELLO)).choices[0].message.content == "Echo: hello"


async def test_a_missing_socket_is_a_connection_error(tmp_path):
    config = LLMConfig(
        base_url="http://localhost", unix_socket=str(tmp_path / "none.sock"), max_retries=0
    )
    async with AsyncLLM(config) as llm:
        with pytest.raises(LLMConnectionError, match="cannot connect"):
            await llm.chat_completion(HELLO)


def test_two_sockets_are_two_origins_so_a_cache_keeps_them_apart():
    one = AsyncLLM(LLMConfig(base_url="http://localhost", unix_socket="/run/a.sock"))
    two = AsyncLLM(LLMConfig(base_url="http://localhost", unix_socket="/run/b.sock"))
    assert one.transport.origin == "http+unix://%2Frun%2Fa.sock/v1"
    assert two.transport.origin == "http+unix://%2Frun%2Fb.sock/v1"
