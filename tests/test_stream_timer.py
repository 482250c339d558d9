"""The read timeout of a stream: one timer per stream, moved as events arrive.

A stream's idle timeout counts from its last event, not from when the timer
was first set, and the caller's own cancellation stays a cancellation.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from llmpipe import AsyncLLM, LLMConfig, LLMTimeoutError
from tests.raw_stream_server import SSE_HEAD, RawServer
from tests.wire_samples import USER, chunk

WORD = chunk({"content": "w"})


def event(payload: object) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


async def test_a_stream_longer_than_its_idle_timeout_with_events_in_time_completes():
    script: list[bytes | float] = [SSE_HEAD]
    for _ in range(8):  # 8 x 0.1 s: past the 0.3 s timer set at the first read
        script += [event(WORD), 0.1]
    script.append(b"data: [DONE]\n\n")
    async with RawServer(*script) as server, AsyncLLM(LLMConfig(base_url=server.base_url)) as llm:
        stream = await llm.chat_completion(USER, stream=True, idle_timeout=0.3)
        reply = await stream.collect()
    assert reply.choices[0].message.content == "w" * 8


async def test_the_idle_timeout_counts_from_the_last_event_after_the_timer_moved():
    script = [SSE_HEAD, event(WORD), 0.2, event(WORD), 0.2, event(WORD), 1.5]
    async with RawServer(*script) as server, AsyncLLM(LLMConfig(base_url=server.base_url)) as llm:
        stream = await llm.chat_completion(USER, stream=True, idle_timeout=0.3)
        loop = asyncio.get_running_loop()
        seen = 0
        with pytest.raises(LLMTimeoutError, match=r"no next stream event within 0\.3 s"):
            async for _ in stream:
                seen += 1
                last = loop.time()
        waited = loop.time() - last
    assert seen == 3
    assert 0.25 < waited < 1.0


async def test_cancelling_the_reader_mid_stream_is_a_cancellation_not_a_timeout():
    script = [SSE_HEAD, event(WORD), 1.5]
    async with RawServer(*script) as server, AsyncLLM(LLMConfig(base_url=server.base_url)) as llm:
        stream = await llm.chat_completion(USER, stream=True, idle_timeout=0.3)

        async def read_all() -> None:
            async for _ in stream:
                pass

        task = asyncio.create_task(read_all())
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
