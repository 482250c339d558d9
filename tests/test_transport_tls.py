"""TLS with real certificates made for the test (trustme): verification on by
default, a private CA by bundle or context, client certificates (mutual TLS),
and a clear LLMConnectionError when verification fails."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
import trustme

from llmpipe import AsyncLLM, LLMConfig, LLMConnectionError
from llmpipe.testing import LLMServer

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA, *, require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(context)
    return context


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[LLMServer]:
    with LLMServer(ssl_context=server_context(ca)).run_in_thread() as server:
        yield server


@pytest.fixture
def mtls_server(ca: trustme.CA) -> Iterator[LLMServer]:
    context = server_context(ca, require_client_cert=True)
    with LLMServer(ssl_context=context).run_in_thread() as server:
        yield server


@pytest.fixture
def ca_bundle(ca: trustme.CA, tmp_path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


async def ask(config: LLMConfig) -> str | None:
    async with AsyncLLM(config) as llm:
        return (await llm.chat_completion(HELLO)).choices[0].message.content


async def test_a_private_ca_is_refused_by_default_with_a_message_naming_the_fix(tls_server):
    config = LLMConfig(base_url=tls_server.base_url, max_retries=0)
    with pytest.raises(LLMConnectionError, match="TLS certificate verification failed") as caught:
        await ask(config)
    assert "ca_bundle=" in str(caught.value)
    assert tls_server.requests == []


async def test_a_ca_bundle_makes_the_server_trusted(tls_server, ca_bundle):
    assert await ask(LLMConfig(base_url=tls_server.base_url, ca_bundle=ca_bundle)) == "Echo: hello"


async def test_an_ssl_context_that_trusts_the_ca_makes_the_server_trusted(tls_server, ca):
    context = ssl.create_default_context()
    ca.configure_trust(context)
    assert await ask(LLMConfig(base_url=tls_server.base_url, ssl_context=context)) == "Echo: hello"


async def test_a_certificate_for_another_host_is_refused(ca):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("other.example").configure_cert(context)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    with LLMServer(ssl_context=context).run_in_thread() as server:
        config = LLMConfig(base_url=server.base_url, ssl_context=trusting, max_retries=0)
        with pytest.raises(LLMConnectionError, match="TLS certificate verification failed"):
            await ask(config)


async def test_verify_tls_off_accepts_any_certificate(tls_server):
    config = LLMConfig(base_url=tls_server.base_url, verify_tls=False)
    assert await ask(config) == "Echo: hello"


async def test_mutual_tls_with_a_client_certificate_is_accepted(
    mtls_server, ca, ca_bundle, tmp_path
):
    client = ca.issue_cert("llmpipe-client@example.com")
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    client.cert_chain_pems[0].write_to_path(str(cert))
    client.private_key_pem.write_to_path(str(key))
    config = LLMConfig(
        base_url=mtls_server.base_url, ca_bundle=ca_bundle, client_cert=(str(cert), str(key))
    )
    assert await ask(config) == "Echo: hello"


async def test_mutual_tls_with_one_pem_holding_certificate_and_key(
    mtls_server, ca, ca_bundle, tmp_path
):
    both = tmp_path / "client-and-key.pem"
    ca.issue_cert("llmpipe-client@example.com").private_key_and_cert_chain_pem.write_to_path(
        str(both)
    )
    config = LLMConfig(base_url=mtls_server.base_url, ca_bundle=ca_bundle, client_cert=str(both))
    assert await ask(config) == "Echo: hello"


async def test_mutual_tls_without_a_client_certificate_fails_as_a_connection_error(
    mtls_server, ca_bundle
):
    config = LLMConfig(base_url=mtls_server.base_url, ca_bundle=ca_bundle, max_retries=0)
    with pytest.raises(LLMConnectionError):  # TLS 1.3: the refusal comes as a close
        await ask(config)
    assert mtls_server.requests == []


def test_a_bundle_that_is_not_pem_fails_when_the_client_is_built(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ValueError, match=r"LLMConfig\.ca_bundle: cannot load"):
        AsyncLLM(LLMConfig(base_url="https://127.0.0.1:1", ca_bundle=str(bad)))
