"""Reads of at most 64 KiB on llmpipe's connections (llmpipe/transport/_reads.py).

asyncio reads 256 KiB at a time, past glibc's mmap threshold: every read maps,
shrinks and unmaps fresh pages. llmpipe's connections read in heap-sized
pieces; a reply longer than a piece still arrives whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from llmpipe import AsyncLLM, LLMConfig
from llmpipe.testing import Fault, LLMServer
from llmpipe.transport._reads import READ_SIZE, read_in_heap_pieces

MESSAGES = [{"role": "user", "content": "hi"}]


def _chat_reply(content: str) -> dict[str, object]:
    return {
        "id": "chatcmpl-big",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }


@pytest.fixture
async def plain_connection() -> AsyncIterator[asyncio.Transport]:
    """A client transport of asyncio's own, connected over loopback."""
    loop = asyncio.get_running_loop()
    accepted: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    yield transport  # type: ignore[misc]
    transport.close()
    for writer in accepted:
        writer.close()
        await writer.wait_closed()
    server.close()
    await server.wait_closed()


async def test_asyncio_reads_256_kib_at_a_time_and_a_tuned_transport_64(plain_connection):
    assert plain_connection.max_size == 256 * 1024  # type: ignore[attr-defined]
    read_in_heap_pieces(plain_connection)
    assert plain_connection.max_size == READ_SIZE == 64 * 1024  # type: ignore[attr-defined]


async def test_a_transport_that_already_reads_less_is_left_alone(plain_connection):
    plain_connection.max_size = 4096  # type: ignore[attr-defined]
    read_in_heap_pieces(plain_connection)
    assert plain_connection.max_size == 4096  # type: ignore[attr-defined]


def test_a_transport_without_asyncios_read_size_is_left_alone():
    class KeepsItsOwnBuffer:  # uvloop's transports, a TLS connection's wrapper
        __slots__ = ()

    read_in_heap_pieces(KeepsItsOwnBuffer())  # no attribute to set, and none added


async def test_a_connection_llmpipe_opens_reads_64_kib_at_a_time(config: LLMConfig):
    async with AsyncLLM(config) as llm:
        await llm.chat_completion(MESSAGES)
        connector = llm.transport._pools.current.session.connector
        assert connector is not None
        idle = [protocol for conns in connector._conns.values() for protocol, _ in conns]
        assert idle  # the call's connection went back to the pool
        assert all(protocol.transport.max_size == READ_SIZE for protocol in idle)


async def test_a_reply_of_many_reads_arrives_whole(llm_server: LLMServer, config: LLMConfig):
    content = "0123456789" * 60_000  # 600 KB: ten reads of 64 KiB at least
    llm_server.add_faults(Fault(body=_chat_reply(content)))
    async with AsyncLLM(config) as llm:
        reply = await llm.chat_completion(MESSAGES)
    assert reply.choices[0].message.content == content
