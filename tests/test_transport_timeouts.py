"""Timeouts finer than the whole attempt's: connecting (``connect_timeout``) and
waiting for a free connection (``pool_timeout``). Each expiry names its own."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from llmpipe import AsyncLLM, ChatStream, LLMConfig, LLMTimeoutError
from llmpipe.testing import Fault, LLMServer
from tests.raw_server import Peer, raw_server

HELLO = [{"role": "user", "content": "hello"}]


def silent(peer: Peer) -> None:
    """Accepts the TCP connection and never says a word: a TLS handshake hangs."""
    while peer.sock.recv(65536):  # until the client gives up and closes
        pass


async def test_a_connection_that_cannot_be_set_up_in_time_names_connect_timeout():
    with raw_server(silent) as server:
        base_url = server.base_url.replace("http://", "https://")
        config = LLMConfig(base_url=base_url, connect_timeout=0.2, timeout=10, max_retries=0)
        async with AsyncLLM(config) as llm:
            started = time.perf_counter()
            with pytest.raises(LLMTimeoutError, match=r"within connect_timeout=0\.2 s"):
                await llm.chat_completion(HELLO)
            assert time.perf_counter() - started < 2


async def test_a_stream_that_cannot_connect_in_time_names_connect_timeout():
    with raw_server(silent) as server:
        base_url = server.base_url.replace("http://", "https://")
        config = LLMConfig(base_url=base_url, connect_timeout=0.2, timeout=10, max_retries=0)
        async with AsyncLLM(config) as llm:
            with pytest.raises(LLMTimeoutError, match="connect_timeout"):
                await llm.chat_completion(HELLO, stream=True)


async def test_the_whole_attempt_timeout_names_timeout_when_it_expires_first():
    with raw_server(silent) as server:
        base_url = server.base_url.replace("http://", "https://")
        config = LLMConfig(base_url=base_url, connect_timeout=5, timeout=0.2, max_retries=0)
        async with AsyncLLM(config) as llm:
            with pytest.raises(LLMTimeoutError, match=r"within 0\.2 s \(timeout\)"):
                await llm.chat_completion(HELLO)


@pytest.fixture
def server():
    with LLMServer().run_in_thread() as running:
        yield running


@contextlib.asynccontextmanager
async def one_connection_held(
    server: LLMServer, **settings: Any
) -> AsyncIterator[tuple[AsyncLLM, ChatStream]]:
    """A client of one connection, which a stream the server stalls holds."""
    server.add_faults(Fault(stall_after_events=1, delay=30.0))
    config = LLMConfig(base_url=server.base_url, connection_limit=1, **settings)
    async with AsyncLLM(config) as llm:
        yield llm, await llm.chat_completion(HELLO, stream=True)


async def test_waiting_for_a_free_connection_names_pool_timeout(server):
    async with one_connection_held(server, pool_timeout=0.2, max_retries=0) as (llm, held):
        started = time.perf_counter()
        expected = r"no free connection within 0\.2 s \(pool_timeout\)"
        with pytest.raises(LLMTimeoutError, match=expected):
            await llm.chat_completion(HELLO)
        assert time.perf_counter() - started < 1
        await held.aclose()
        assert (await llm.chat_completion(HELLO)).choices[0].message.content == "Echo: hello"


async def test_without_pool_timeout_the_wait_for_a_connection_counts_against_timeout(server):
    async with one_connection_held(server, timeout=0.3, max_retries=0) as (llm, held):
        with pytest.raises(LLMTimeoutError, match=r"no free connection within 0\.3 s \(timeout\)"):
            await llm.chat_completion(HELLO)
        await held.aclose()


async def test_a_connection_freed_while_waiting_is_taken_in_turn(server):
    async with one_connection_held(server, pool_timeout=5) as (llm, held):
        waiting = asyncio.create_task(llm.chat_completion(HELLO))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        await held.aclose()
        assert (await waiting).choices[0].message.content == "Echo: hello"


async def test_a_call_cancelled_while_waiting_for_a_connection_leaves_the_pool_as_it_was(server):
    """A plain call waits for its place inside the connector (``_Queued``); cancelled
    there, it holds no place, leaves no turn behind, and the next call goes through."""
    async with one_connection_held(server, pool_timeout=5) as (llm, held):
        waiting = asyncio.create_task(llm.chat_completion(HELLO))
        await asyncio.sleep(0.1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        pool = llm.transport._pools.current  # type: ignore[attr-defined]
        assert (pool.turns, pool.in_flight) == ({}, 1)
        await held.aclose()
        assert (await llm.chat_completion(HELLO)).choices[0].message.content == "Echo: hello"
        assert (pool.turns, pool.in_flight) == ({}, 0)


async def test_a_call_that_waited_for_a_connection_has_only_the_rest_of_its_timeout(server):
    """0.5 s of timeout, 0.3 s of it spent waiting for the only connection: the slow
    reply then times out within the 0.2 s left, naming that."""
    async with one_connection_held(server, timeout=0.5, max_retries=0) as (llm, held):
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, lambda: loop.create_task(held.aclose()))
        server.add_faults(Fault(delay=5.0))
        started = time.perf_counter()
        with pytest.raises(LLMTimeoutError, match=r"no complete reply within 0\.[12]\d* s"):
            await llm.chat_completion(HELLO)
        assert time.perf_counter() - started < 1.5
