"""A request that never reached the server is sent again at once, on a fresh
connection, and is not a retry: it happens whatever max_retries says.

The everyday case is a server that closes idle keep-alive connections (uvicorn
after 5 s): a sync client's loop does not run between calls, so it learns of
the close only when it writes the next request on that connection.
"""

from __future__ import annotations

import gc
import time

import pytest

from llmpipe import LLM, AsyncLLM, LLMConfig, LLMConnectionError, enable_logging
from llmpipe.logs import disable_logging
from llmpipe.testing import LLMServer
from tests.raw_server import Peer, chat_reply, raw_server

HELLO = [{"role": "user", "content": "hello"}]
IDLE = 0.2  # the server's keep-alive timeout here


@pytest.fixture
def idle_closing_server():
    with LLMServer(keepalive_timeout=IDLE).run_in_thread() as server:
        yield server


def test_sync_call_after_the_server_closed_the_idle_connection_succeeds_without_a_retry(
    idle_closing_server,
):
    logged: list[str] = []
    enable_logging("WARNING", sink=logged.append)
    try:
        with LLM(LLMConfig(base_url=idle_closing_server.base_url, max_retries=0)) as llm:
            llm.chat_completion(HELLO)
            time.sleep(IDLE * 3)  # the server closes the connection meanwhile
            reply = llm.chat_completion(HELLO)
            stats, resent = llm.get_stats(), llm.async_client.transport.resent
    finally:
        disable_logging()
    assert reply.choices[0].message.content == "Echo: hello"
    assert resent == 1  # the stale connection was tried, and the request sent again
    assert (stats.requests, stats.attempts, stats.retries) == (2, 2, 0)
    assert len(idle_closing_server.requests) == 2
    assert logged == []  # no retry warning


def test_many_idle_pauses_in_a_row_never_fail_a_call(idle_closing_server):
    with LLM(LLMConfig(base_url=idle_closing_server.base_url, max_retries=0)) as llm:
        for _ in range(5):
            assert llm.chat_completion(HELLO).choices[0].message.content == "Echo: hello"
            time.sleep(IDLE * 2)
        assert llm.get_stats().attempts == 5


def answer_then(second: object):
    """A connection that answers its first request, then treats the next as ``second`` says."""

    def serve(peer: Peer) -> None:
        peer.read_request()
        peer.send(chat_reply("first"))
        if peer.read_request():
            second(peer)  # type: ignore[operator]

    return serve


def answer(peer: Peer) -> None:
    while peer.read_request():
        peer.send(chat_reply("fresh"))


def config(base_url: str, **fields) -> LLMConfig:
    return LLMConfig(base_url=base_url, max_retries=0, **fields)


async def test_a_reset_before_any_reply_byte_on_a_reused_connection_is_sent_again_on_a_fresh_one():
    with raw_server(answer_then(Peer.reset), answer) as server:
        async with AsyncLLM(config(server.base_url)) as llm:
            await llm.chat_completion(HELLO)
            reply = await llm.chat_completion(HELLO)
            assert llm.transport.resent == 1
            assert llm.get_stats().attempts == 2
    assert reply.choices[0].message.content == "fresh"
    assert (server.accepted, len(server.requests)) == (2, 3)


async def test_a_close_before_any_reply_byte_on_a_reused_connection_is_sent_again():
    with raw_server(answer_then(Peer.close), answer) as server:
        async with AsyncLLM(config(server.base_url)) as llm:
            await llm.chat_completion(HELLO)
            reply = await llm.chat_completion(HELLO)
    assert reply.choices[0].message.content == "fresh"
    assert (server.accepted, len(server.requests)) == (2, 3)


async def test_a_reused_connection_closed_after_part_of_a_reply_is_not_sent_again():
    def half_a_status_line(peer: Peer) -> None:
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Ty")
        peer.close()

    with raw_server(answer_then(half_a_status_line), answer) as server:
        async with AsyncLLM(config(server.base_url)) as llm:
            await llm.chat_completion(HELLO)
            with pytest.raises(LLMConnectionError):
                await llm.chat_completion(HELLO)
            assert llm.transport.resent == 0
    assert len(server.requests) == 2


async def test_a_fresh_connection_closed_before_replying_is_not_sent_again():
    def close_at_once(peer: Peer) -> None:
        peer.read_request()
        peer.close()

    with raw_server(close_at_once, answer) as server:
        async with AsyncLLM(config(server.base_url)) as llm:
            with pytest.raises(LLMConnectionError, match="closed the connection"):
                await llm.chat_completion(HELLO)
            assert llm.transport.resent == 0
    assert len(server.requests) == 1


async def test_without_an_idempotency_key_a_post_the_server_may_have_read_is_not_sent_again():
    with raw_server(answer_then(Peer.close), answer) as server:
        async with AsyncLLM(config(server.base_url, idempotency_header=None)) as llm:
            await llm.chat_completion(HELLO)
            with pytest.raises(LLMConnectionError):
                await llm.chat_completion(HELLO)
            assert llm.transport.resent == 0
    assert len(server.requests) == 2


async def test_a_get_is_replayable_without_an_idempotency_key():
    def models(peer: Peer) -> None:
        while peer.read_request():
            body = b'{"object": "list", "data": []}'
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    def models_then_reset(peer: Peer) -> None:
        peer.read_request()
        body = b'{"object": "list", "data": []}'
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        if peer.read_request():
            peer.reset()

    with raw_server(models_then_reset, models) as server:
        async with AsyncLLM(config(server.base_url, idempotency_header=None)) as llm:
            await llm.list_models()
            assert (await llm.list_models()).data == []
    assert len(server.requests) == 3


def test_a_request_that_could_not_be_written_is_sent_again_even_without_an_idempotency_key():
    def answer_then_reset_while_idle(peer: Peer) -> None:
        peer.read_request()
        peer.send(chat_reply("first"))
        time.sleep(IDLE / 4)
        peer.reset()

    with (
        raw_server(answer_then_reset_while_idle, answer) as server,
        LLM(config(server.base_url, idempotency_header=None)) as llm,
    ):
        llm.chat_completion(HELLO)
        time.sleep(IDLE)  # the reset arrives while no loop runs to see it
        reply = llm.chat_completion(HELLO)
        assert llm.async_client.transport.resent == 1
    assert reply.choices[0].message.content == "fresh"
    assert (server.accepted, len(server.requests)) == (2, 2)


async def test_fresh_connections_after_collected_ones_are_never_taken_for_reused():
    """Protocols are remembered by ``id``, which a new protocol often takes once an
    earlier one is collected: a collected protocol must be forgotten first, or a
    fresh connection the server closes at once would be sent again."""

    def answer_and_close(peer: Peer) -> None:
        peer.read_request()
        peer.send(chat_reply("once", close=True))

    def close_at_once(peer: Peer) -> None:
        peer.read_request()
        peer.close()

    rounds = 25
    with raw_server(*[answer_and_close, close_at_once] * rounds) as server:
        async with AsyncLLM(config(server.base_url)) as llm:
            for _ in range(rounds):
                await llm.chat_completion(HELLO)
                gc.collect()  # the closed connection's protocol goes: its id is free
                with pytest.raises(LLMConnectionError, match="closed the connection"):
                    await llm.chat_completion(HELLO)
                gc.collect()
            assert llm.transport.resent == 0
    assert len(server.requests) == 2 * rounds
