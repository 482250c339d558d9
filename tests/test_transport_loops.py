"""One AsyncLLM across event loops: one after another is fine (scripts calling
asyncio.run twice, notebooks, pytest's loop per test); two at the same time is
an error that says what to do."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import warnings

import pytest

from llmpipe import AsyncLLM, LLMConfig, LLMError
from llmpipe.testing import Fault, LLMServer

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def server():
    with LLMServer().run_in_thread() as running:
        yield running


async def ask(llm: AsyncLLM) -> str | None:
    return (await llm.chat_completion(HELLO)).choices[0].message.content


def test_asyncio_run_twice_with_one_client_works_and_warns_nothing(server):
    llm = AsyncLLM(LLMConfig(base_url=server.base_url))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = asyncio.run(ask(llm))
        second = asyncio.run(ask(llm))
        asyncio.run(llm.close())
        gc.collect()
    assert first == second == "Echo: hello"
    assert [str(w.message) for w in caught] == []


def test_the_end_of_asyncio_run_closes_the_pool_the_loop_opened(server):
    llm = AsyncLLM(LLMConfig(base_url=server.base_url))
    asyncio.run(ask(llm))
    assert _settles(lambda: server.connections == 0)
    assert not llm.transport.holds_resources
    del llm  # nothing left to close: no ResourceWarning (filterwarnings = error)
    gc.collect()


def test_a_loop_closed_without_shutting_down_is_left_behind_and_a_new_pool_opens(server):
    # Without shutdown_asyncgens the pool never hears that its loop ended: its
    # sockets can no longer be closed (that needs the loop) and are collected.
    llm = AsyncLLM(LLMConfig(base_url=server.base_url))
    loop = asyncio.new_event_loop()
    loop.run_until_complete(ask(llm))
    loop.close()  # no shutdown_asyncgens: the pool never heard the loop end
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # that loop's sockets, at collection
        assert asyncio.run(ask(llm)) == "Echo: hello"
        asyncio.run(llm.close())
        gc.collect()


def test_a_client_used_from_two_running_loops_at_once_is_refused_naming_the_fix(server):
    server.add_faults(Fault(delay=1.0))
    llm = AsyncLLM(LLMConfig(base_url=server.base_url))
    started = threading.Event()

    async def slow_call() -> None:
        call = asyncio.ensure_future(ask(llm))
        await asyncio.sleep(0.1)
        started.set()
        await call

    other = threading.Thread(target=asyncio.run, args=(slow_call(),))
    other.start()
    try:
        assert started.wait(5)
        with pytest.raises(LLMError, match="create one AsyncLLM per event loop"):
            asyncio.run(ask(llm))
    finally:
        other.join(5)
    assert asyncio.run(ask(llm)) == "Echo: hello"  # that loop has ended: fine again
    asyncio.run(llm.close())


def _settles(condition, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
