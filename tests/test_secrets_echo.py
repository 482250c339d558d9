"""A server that echoes what it was sent, whatever the status, puts no secret in
what llmpipe returns or raises; nor do credentials written into base_url.

httpbin-style debugging endpoints and some proxies answer 200 with the request
headers in the body; others echo them as response headers. The bytes here are
exact, so they come from a raw socket server.
"""

from __future__ import annotations

import json

import pytest

from llmpipe import (
    LLM,
    AsyncLLM,
    AuthenticationError,
    LLMConfig,
    LLMConnectionError,
    LLMError,
    LLMResponseError,
    disable_logging,
    enable_logging,
)
from llmpipe.testing import LLMServer
from tests.raw_server import Peer, chat_reply, raw_server
from tests.test_secrets import exception_chain, free_port, texts_of

KEY = "sk-echo-SECRET-5551234"
PASSWORD = "gateway-PASS-777"
HELLO = [{"role": "user", "content": "hello"}]


def request_headers(request: bytes) -> dict[str, str]:
    head = request.split(b"\r\n\r\n", 1)[0].decode()
    return dict(line.split(": ", 1) for line in head.split("\r\n")[1:])


def echo_as_json_body(peer: Peer) -> None:
    """200 with the request's headers as the JSON body, as httpbin's /anything does."""
    while request := peer.read_request():
        body = json.dumps({"headers": request_headers(request)}).encode()
        peer.send(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )


def echo_in_a_header(status: bytes):
    def serve(peer: Peer) -> None:
        while request := peer.read_request():
            sent = request_headers(request)["Authorization"].encode()
            body = b'{"error": {"message": "no"}}'
            peer.send(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                b"X-Echo-Authorization: " + sent + b"\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )

    return serve


def everything_shown(error: BaseException) -> str:
    return "\n".join(text for link in exception_chain(error) for text in texts_of(link))


async def test_a_200_that_echoes_the_request_headers_keeps_the_key_out_of_the_error_and_body():
    with raw_server(echo_as_json_body) as server:
        async with AsyncLLM(LLMConfig(base_url=server.base_url, api_key=KEY)) as llm:
            with pytest.raises(LLMResponseError) as caught:
                await llm.chat_completion(HELLO)
    assert "***" in json.dumps(caught.value.body)  # the echo arrived, masked
    assert KEY not in everything_shown(caught.value)


@pytest.mark.parametrize("status", [b"200 OK", b"401 Unauthorized"])
async def test_a_key_echoed_in_a_response_header_is_masked_whatever_the_status(status):
    with raw_server(echo_in_a_header(status)) as server:
        async with AsyncLLM(LLMConfig(base_url=server.base_url, api_key=KEY)) as llm:
            with pytest.raises(LLMError) as caught:
                await llm.chat_completion(HELLO)
    if isinstance(caught.value, AuthenticationError):
        assert caught.value.headers["X-Echo-Authorization"] == "Bearer ***"
    assert KEY not in everything_shown(caught.value)


async def test_a_successful_reply_that_quotes_the_key_returns_it_masked():
    with raw_server(lambda peer: (peer.read_request(), peer.send(chat_reply(f"key={KEY}")))) as s:
        async with AsyncLLM(LLMConfig(base_url=s.base_url, api_key=KEY)) as llm:
            reply = await llm.chat_completion(HELLO)
    assert reply.choices[0].message.content == "key=***"


# --- credentials in base_url ----------------------------------------------------------


def gateway_url(base_url: str) -> str:
    return base_url.replace("http://", f"http://alice:{PASSWORD}@")


def test_credentials_in_base_url_are_sent_as_basic_auth_and_never_shown():
    lines: list[str] = []
    enable_logging("DEBUG", sink=lines.append)
    try:
        with LLMServer().run_in_thread() as server:
            with LLM(LLMConfig(base_url=gateway_url(server.base_url))) as llm:
                shown = [repr(llm), repr(llm.config), repr(llm.async_client.transport)]
                llm.chat_completion(HELLO)
            sent = server.requests[0].headers["Authorization"]
    finally:
        disable_logging()
    assert sent == "Basic YWxpY2U6Z2F0ZXdheS1QQVNTLTc3Nw=="  # base64("alice:gateway-PASS-777")
    assert lines, "DEBUG logging was on"
    assert not [text for text in [*shown, *lines] if PASSWORD in text]


async def test_credentials_in_base_url_stay_out_of_a_connection_error():
    url = f"http://alice:{PASSWORD}@127.0.0.1:{free_port()}"
    async with AsyncLLM(LLMConfig(base_url=url, max_retries=0)) as llm:
        with pytest.raises(LLMConnectionError) as caught:
            await llm.chat_completion(HELLO)
    assert "cannot connect" in str(caught.value)
    assert PASSWORD not in everything_shown(caught.value)
