"""Proxies, through a real forwarding proxy on loopback (tests/forward_proxy.py).

HTTP_PROXY / HTTPS_PROXY / NO_PROXY are honoured by default, as httpx and
requests do; ``trust_env=False`` turns that off; ``LLMConfig.proxy`` names a
proxy outright, credentials included.
"""

from __future__ import annotations

import asyncio
import base64
import ssl

import pytest
import trustme

from llmpipe import AsyncLLM, LLMAPIError, LLMConfig, LLMConnectionError
from llmpipe.testing import LLMServer
from llmpipe.transport._proxy import bypassed
from tests.forward_proxy import forward_proxy
from tests.test_secrets import free_port

HELLO = [{"role": "user", "content": "hello"}]
PASSWORD = "proxy-PASS-31337"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def clean_proxy_environment(monkeypatch):
    """Whatever the machine sets, each test starts with no proxy variables."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def server():
    with LLMServer().run_in_thread() as running:
        yield running


@pytest.fixture
def proxy():
    with forward_proxy() as running:
        yield running


async def ask(config: LLMConfig) -> str | None:
    async with AsyncLLM(config) as llm:
        return (await llm.chat_completion(HELLO)).choices[0].message.content


async def test_http_proxy_from_the_environment_is_used_by_default(monkeypatch, server, proxy):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    assert await ask(LLMConfig(base_url=server.base_url)) == "Echo: hello"
    assert [(s.method, s.target) for s in proxy.seen] == [
        ("POST", f"{server.base_url}/v1/chat/completions")
    ]
    assert len(server.requests) == 1


async def test_no_proxy_sends_that_host_direct(monkeypatch, server, proxy):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "example.com,127.0.0.1")
    assert await ask(LLMConfig(base_url=server.base_url)) == "Echo: hello"
    assert proxy.seen == []


async def test_trust_env_off_ignores_the_proxy_variables(monkeypatch, server, proxy):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    assert await ask(LLMConfig(base_url=server.base_url, trust_env=False)) == "Echo: hello"
    assert proxy.seen == []


async def test_an_explicit_proxy_with_credentials_sends_proxy_authorization(server):
    with forward_proxy(credentials=("bob", PASSWORD)) as proxy:
        url = proxy.url.replace("http://", f"http://bob:{PASSWORD}@")
        assert await ask(LLMConfig(base_url=server.base_url, proxy=url)) == "Echo: hello"
    token = base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
    assert [s.proxy_authorization for s in proxy.seen] == [f"Basic {token}"]


async def test_an_explicit_proxy_wins_over_the_environment(monkeypatch, server, proxy):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing there
    assert await ask(LLMConfig(base_url=server.base_url, proxy=proxy.url)) == "Echo: hello"
    assert len(proxy.seen) == 1


async def test_a_proxy_refusing_the_credentials_is_an_api_error_without_the_password(server):
    with forward_proxy(credentials=("bob", "right")) as proxy:
        url = proxy.url.replace("http://", f"http://bob:{PASSWORD}@")
        with pytest.raises(LLMAPIError) as caught:
            await ask(LLMConfig(base_url=server.base_url, proxy=url, max_retries=0))
    assert caught.value.status_code == 407
    assert PASSWORD not in f"{caught.value} {caught.value!r}"
    assert server.requests == []


async def test_an_unreachable_proxy_is_named_without_its_password(server):
    url = f"http://bob:{PASSWORD}@127.0.0.1:{free_port()}"
    with pytest.raises(LLMConnectionError, match="cannot connect to the proxy") as caught:
        await ask(LLMConfig(base_url=server.base_url, proxy=url, max_retries=0))
    assert "bob:[secure]@127.0.0.1" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in repr(caught.value.__cause__)


async def test_https_goes_through_the_proxy_in_a_connect_tunnel(monkeypatch, proxy, tmp_path):
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    with LLMServer(ssl_context=context).run_in_thread() as server:
        config = LLMConfig(base_url=server.base_url, ca_bundle=str(bundle))
        assert await ask(config) == "Echo: hello"
        tunnel = ("CONNECT", f"127.0.0.1:{server.port}")
        # Let the tunnel finish closing before the TLS server stops: a TLS server
        # torn down mid-shutdown of a connection leaves that socket to the collector.
        for _ in range(200):
            if proxy.open_connections == 0:
                break
            await asyncio.sleep(0.01)
        assert proxy.open_connections == 0
    assert [(s.method, s.target) for s in proxy.seen] == [tunnel]


async def test_a_proxy_refusing_an_https_tunnel_is_a_connection_error_naming_it(tmp_path):
    url = f"https://127.0.0.1:{free_port()}"  # never reached: the proxy refuses first
    with forward_proxy(credentials=("bob", "right")) as proxy:
        config = LLMConfig(base_url=url, proxy=proxy.url, max_retries=0)
        with pytest.raises(LLMConnectionError, match=r"refused the tunnel \(407") as caught:
            await ask(config)
    assert [s.method for s in proxy.seen] == ["CONNECT"]
    assert caught.value.__cause__ is None  # aiohttp's error shows the request's headers


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "direct"),
    [
        ("api.example.com", 443, "*", True),
        ("api.example.com", 443, "example.com", True),
        ("api.example.com", 443, ".example.com", True),
        ("example.com", 443, ".example.com", True),
        ("notexample.com", 443, "example.com", False),
        ("api.example.com", 443, "example.com:8080", False),
        ("api.example.com", 8080, "example.com:8080", True),
        ("10.1.2.3", 80, "10.0.0.0/8", True),
        ("11.1.2.3", 80, "10.0.0.0/8", False),
        ("::1", 80, "::1", True),
        ("[::1]", 80, "[::1]:80", True),
        ("localhost", 80, " localhost , other ", True),
        ("api.example.com", 443, "", False),
    ],
)
def test_no_proxy_entries_match_as_httpx_and_requests_read_them(host, port, no_proxy, direct):
    assert bypassed(host, port, no_proxy) is direct
