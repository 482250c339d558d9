"""The attempt's timeout, kept by one timer per pool (transport/_deadlines.py)
rather than by aiohttp's per-request ``ClientTimeout(total=...)``.

Each call still times out on its own deadline, headers and body alike, also
when the pool's timer was armed for another call; a stream's wait for its
headers counts against its first event's timeout; and a cancellation by the
caller stays a cancellation.
"""

from __future__ import annotations

import asyncio
import time

import attrs
import pytest

from llmpipe import AsyncLLM, LLMConfig, LLMTimeoutError
from llmpipe.testing import Fault, LLMServer
from llmpipe.transport._deadlines import Deadlines
from tests.raw_server import Peer, raw_server

HELLO = [{"role": "user", "content": "hello"}]
SLOW = 30.0  # a server delay no test waits out
SLACK = 0.5  # scheduling on a loaded machine


@pytest.fixture
def server():
    with LLMServer().run_in_thread() as running:
        yield running


@pytest.fixture
def config(server):
    return LLMConfig(base_url=server.base_url, api_key="sk-test", max_retries=0)


async def test_a_plain_call_to_a_server_slower_than_its_timeout_raises_on_time(server, config):
    server.add_faults(Fault(delay=SLOW))
    async with AsyncLLM(attrs.evolve(config, timeout=0.3)) as llm:
        started = time.monotonic()
        with pytest.raises(LLMTimeoutError, match=r"no complete reply within 0\.3 s \(timeout\)"):
            await llm.chat_completion(HELLO)
        assert 0.3 <= time.monotonic() - started < 0.3 + SLACK


def half_a_body(peer: Peer) -> None:
    """Headers and the first bytes of a JSON body, then nothing until the client leaves."""
    peer.read_request()
    peer.send(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
        b'{"id": "chatcmpl-1", '
    )
    while peer.sock.recv(65536):
        pass


async def test_the_timeout_covers_a_body_that_stalls_after_its_headers():
    with raw_server(half_a_body) as raw:
        config = LLMConfig(base_url=raw.base_url, timeout=0.3, max_retries=0)
        async with AsyncLLM(config) as llm:
            started = time.monotonic()
            with pytest.raises(LLMTimeoutError, match=r"within 0\.3 s \(timeout\)"):
                await llm.chat_completion(HELLO)
            assert time.monotonic() - started < 0.3 + SLACK


async def test_a_call_with_a_shorter_timeout_than_one_in_flight_times_out_at_its_own(
    server, config
):
    server.add_faults(Fault(delay=SLOW), Fault(delay=SLOW))
    async with AsyncLLM(config) as llm:
        loop = asyncio.get_running_loop()
        longer = asyncio.create_task(llm.chat_completion(HELLO, timeout=2.0))
        await asyncio.sleep(0.05)  # the pool's timer is armed for the longer call first
        started = loop.time()
        with pytest.raises(LLMTimeoutError, match=r"0\.3 s"):
            await llm.chat_completion(HELLO, timeout=0.3)
        assert loop.time() - started < 0.3 + SLACK
        assert not longer.done()
        with pytest.raises(LLMTimeoutError, match=r"2 s"):
            await longer
        assert loop.time() - started >= 2.0 - 0.05 - 0.3


async def test_a_call_after_the_timer_was_armed_for_an_earlier_shorter_one_times_out(
    server, config
):
    async with AsyncLLM(config) as llm:
        await llm.chat_completion(HELLO, timeout=0.2)  # arms the timer 0.2 s ahead
        server.add_faults(Fault(delay=SLOW))
        started = time.monotonic()
        with pytest.raises(LLMTimeoutError, match=r"0\.8 s"):
            await llm.chat_completion(HELLO, timeout=0.8)
        assert 0.8 <= time.monotonic() - started < 0.8 + SLACK


async def test_calls_after_a_timeout_are_answered(server, config):
    server.add_faults(Fault(delay=SLOW))
    async with AsyncLLM(config) as llm:
        with pytest.raises(LLMTimeoutError):
            await llm.chat_completion(HELLO, timeout=0.2)
        for _ in range(3):
            reply = await llm.chat_completion(HELLO, timeout=5)
            assert reply.choices[0].message.content


async def test_a_caller_timeout_shorter_than_the_calls_is_the_callers_not_llmpipes(server, config):
    server.add_faults(Fault(delay=SLOW))
    async with AsyncLLM(config) as llm:
        with pytest.raises(TimeoutError) as raised:
            async with asyncio.timeout(0.2):
                await llm.chat_completion(HELLO, timeout=5)
        assert not isinstance(raised.value, LLMTimeoutError)
        assert (await llm.chat_completion(HELLO)).choices[0].message.content


async def test_a_stream_whose_headers_come_later_than_its_first_event_timeout_raises(
    server, config
):
    server.add_faults(Fault(delay=SLOW))
    async with AsyncLLM(attrs.evolve(config, stream_first_event_timeout=0.3)) as llm:
        started = time.monotonic()
        with pytest.raises(LLMTimeoutError, match=r"no reply headers within 0\.3 s"):
            await llm.chat_completion(HELLO, stream=True)
        assert time.monotonic() - started < 0.3 + SLACK


# -- the timer itself, on plain tasks ----------------------------------------------


async def sleeper(deadlines: Deadlines, seconds: float) -> bool:
    """Sleeps far past ``seconds`` under ``deadlines``; True if it expired."""
    task = asyncio.current_task()
    assert task is not None
    cancelling = task.cancelling()
    deadlines.enter(task, seconds)
    try:
        await asyncio.sleep(SLOW)
    except asyncio.CancelledError:
        if deadlines.leave(task, cancelling):
            return True
        raise
    deadlines.leave(task, cancelling)
    return False


async def test_one_timer_expires_each_task_at_its_own_deadline():
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    started = loop.time()
    ended: dict[float, float] = {}

    async def timed(seconds: float) -> None:
        assert await sleeper(deadlines, seconds)
        ended[seconds] = loop.time() - started

    await asyncio.gather(timed(0.4), timed(0.1), timed(0.25))
    assert sorted(ended, key=ended.__getitem__) == [0.1, 0.25, 0.4]
    for seconds, took in ended.items():
        assert seconds <= took < seconds + SLACK


async def test_a_task_that_leaves_in_time_is_not_cancelled_later():
    deadlines = Deadlines(asyncio.get_running_loop())
    task = asyncio.current_task()
    assert task is not None
    deadlines.enter(task, 0.05)
    assert not deadlines.leave(task, task.cancelling())
    await asyncio.sleep(0.2)  # past the deadline: the timer fires and finds no one
    assert task.cancelling() == 0


async def test_a_task_cancelled_by_its_caller_is_not_an_expiry():
    deadlines = Deadlines(asyncio.get_running_loop())
    task = asyncio.create_task(sleeper(deadlines, 5))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_task_its_caller_cancels_as_its_deadline_passes_stays_cancelled():
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    task = asyncio.create_task(sleeper(deadlines, 0.1))
    await asyncio.sleep(0)  # the task enters, deadline 0.1 s ahead
    # The loop stands still past the deadline: the timer is due, not run.
    time.sleep(0.15)  # noqa: ASYNC251 - blocking the loop is the point
    loop.call_later(0, task.cancel)  # the caller's cancel: due after the timer, before the task
    with pytest.raises(asyncio.CancelledError):
        await task
