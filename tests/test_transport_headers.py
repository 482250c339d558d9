"""Reply headers beyond aiohttp's 8 KiB default (long x-ratelimit-* sets, tracing
headers) are accepted up to ``max_header_bytes``; beyond it, the error says
which setting to raise, and is not mistaken for a server's 400 or retried."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from llmpipe import AsyncLLM, LLMConfig, LLMResponseError
from tests.raw_server import Peer, chat_reply, raw_server

HELLO = [{"role": "user", "content": "hello"}]


def answer_with_header(size: int):
    header = b"X-Trace-Baggage: " + b"k=v;" * (size // 4) + b"\r\n"

    def serve(peer: Peer) -> None:
        while peer.read_request():
            peer.send(chat_reply("big", headers=header))

    return serve


def answer_with_many_ratelimit_headers(peer: Peer) -> None:
    headers = b"".join(b"x-ratelimit-%d: %s\r\n" % (n, b"9" * 200) for n in range(60))
    while peer.read_request():
        peer.send(chat_reply("many", headers=headers))


async def test_a_12_kib_header_is_accepted():
    with raw_server(answer_with_header(12 * 1024)) as server:
        async with AsyncLLM(LLMConfig(base_url=server.base_url)) as llm:
            reply = await llm.chat_completion(HELLO)
    assert reply.choices[0].message.content == "big"


async def test_sixty_long_rate_limit_headers_are_accepted():
    with raw_server(answer_with_many_ratelimit_headers) as server:
        async with AsyncLLM(LLMConfig(base_url=server.base_url)) as llm:
            reply = await llm.chat_completion(HELLO)
    assert reply.choices[0].message.content == "many"


async def test_a_header_over_the_cap_names_max_header_bytes_and_is_not_retried():
    with raw_server(answer_with_header(20 * 1024)) as server:
        config = LLMConfig(base_url=server.base_url, max_header_bytes=16 * 1024, retry_delay=0)
        async with AsyncLLM(config) as llm:
            with pytest.raises(LLMResponseError, match="max_header_bytes=16384") as caught:
                await llm.chat_completion(HELLO)
            assert llm.get_stats().attempts == 1
    # no status 400 in the message (the server's port, which it may name, can hold those digits)
    port = str(urlsplit(server.base_url).port)
    assert "400" not in str(caught.value).replace(port, "")
    assert len(server.requests) == 1


async def test_raising_the_cap_accepts_a_header_beyond_the_default():
    with raw_server(answer_with_header(100 * 1024)) as server:
        config = LLMConfig(base_url=server.base_url, max_header_bytes=128 * 1024)
        async with AsyncLLM(config) as llm:
            assert (await llm.chat_completion(HELLO)).choices[0].message.content == "big"


async def test_a_streamed_reply_with_a_12_kib_header_is_accepted():
    header = b"X-Trace-Baggage: " + b"k=v;" * 3072 + b"\r\n"

    def stream(peer: Peer) -> None:
        peer.read_request()
        event = b'data: {"id":"c","object":"chat.completion.chunk","created":0,"model":"m",'
        event += b'"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n'
        body = event + b"data: [DONE]\n\n"
        peer.send(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            + header
            + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )

    with raw_server(stream) as server:
        async with AsyncLLM(LLMConfig(base_url=server.base_url)) as llm:
            chunks = await llm.chat_completion(HELLO, stream=True)
            reply = await chunks.collect()
    assert reply.choices[0].message.content == "hi"
