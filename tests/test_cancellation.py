"""Cancellation and shutdown: a call stopped at any point gives its connection
back, and the client goes on working.

Already covered elsewhere: task cancel while a reply is awaited and mid-stream,
and `asyncio.timeout` during the retry sleep (test_safety.py); the sync LLM's
close() with a call in flight, closing twice, and the ResourceWarning of an
unclosed client (test_sync.py, test_client.py). Here: cancel while the TCP
connect itself is pending; Ctrl-C (a real SIGINT to the main thread, in a
child process) in the sync shim while it waits for a reply, during the retry
sleep and mid-stream; and AsyncLLM.close() with calls in flight.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from llmpipe import AsyncLLM, ClientClosedError, LLMConfig
from llmpipe.testing import Fault, LLMServer

HELLO = [{"role": "user", "content": "hello"}]
ASK = [{"role": "user", "content": "one two three four five six"}]
STALL = 5.0  # far longer than any bound below; the server ends it when it stops
PROMPTLY = 0.5  # seconds within which an interrupted or closed call must end
WITHIN = 5.0  # bound on every poll


async def poll(condition: Callable[[], bool], within: float = WITHIN) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s: {condition}")
        await asyncio.sleep(0.005)


# --- cancel during connect --------------------------------------------------------------


class FullBacklog:
    """A loopback port whose accept queue is full: a connect to it stays in SYN_SENT.

    Linux drops the SYNs of a listener whose queue (backlog 0 holds one) is
    full, so the client's connect neither succeeds nor fails until it gives up.
    """

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=0)
        self.port: int = self.listener.getsockname()[1]
        self.filler = socket.create_connection(("127.0.0.1", self.port))

    def connecting(self) -> int:
        """Sockets of this machine in SYN_SENT towards the port."""
        with open("/proc/net/tcp") as table:
            rows = [line.split() for line in table.readlines()[1:]]
        return sum(1 for r in rows if r[3] == "02" and int(r[2].split(":")[1], 16) == self.port)

    def close(self) -> None:
        self.filler.close()
        self.listener.close()


async def test_cancel_during_connect_releases_the_slot_and_the_client_stays_usable() -> None:
    backlog = FullBacklog()
    base_url = f"http://127.0.0.1:{backlog.port}"
    config = LLMConfig(base_url=base_url, timeout=30, max_retries=0, connection_limit=1)
    async with AsyncLLM(config) as llm:
        try:
            task = asyncio.create_task(llm.chat_completion(HELLO))
            await poll(lambda: backlog.connecting() == 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert llm.transport.in_flight == 0
            await poll(lambda: backlog.connecting() == 0)
        finally:
            backlog.close()
        async with LLMServer(port=backlog.port):
            reply = await llm.chat_completion(HELLO)  # the one pool slot is free again
    assert reply.choices[0].message.content == "Echo: hello"


# --- KeyboardInterrupt in the sync shim ------------------------------------------------
# Each scenario runs in a child process (tests/ctrl_c_child.py): a real SIGINT
# that went astray there cannot interrupt pytest.

ROOT = Path(__file__).resolve().parent.parent


def ctrl_c_scenario(name: str) -> dict[str, Any]:
    """Run one scenario of tests/ctrl_c_child.py; what it observed."""
    child = subprocess.run(
        [sys.executable, "-W", "error", "-m", "tests.ctrl_c_child", name],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (child.returncode, child.stderr) == (0, "")
    seen: dict[str, Any] = json.loads(child.stdout)
    assert seen["raised"] == "KeyboardInterrupt"
    assert seen["after_signal"] < PROMPTLY
    return seen


def test_ctrl_c_while_waiting_for_a_reply_cancels_the_call_and_the_llm_stays_usable() -> None:
    seen = ctrl_c_scenario("reply")
    assert seen["connection_closed"]  # the server saw it go
    assert seen["released"]
    assert seen["next_reply"] == "Echo: hello"


def test_ctrl_c_during_the_retry_sleep_stops_the_retries() -> None:
    seen = ctrl_c_scenario("retry-sleep")
    assert seen["counted"]  # one attempt, counted once the call had ended
    assert seen["requests"] == 1
    assert seen["next_reply"] == "Echo: hello"


def test_ctrl_c_mid_stream_closes_its_connection_and_the_llm_stays_usable() -> None:
    seen = ctrl_c_scenario("mid-stream")
    assert seen["received"] == 2
    assert seen["connection_closed"]
    assert seen["released"]
    assert seen["next_reply"] == "Echo: one two three four five six"


# --- AsyncLLM.close() with calls in flight ------------------------------------------------


async def close_while_in_flight(
    llm: AsyncLLM, call: asyncio.Task[Any], ready: Callable[[], bool]
) -> float:
    """Close once `ready()`; return how long the call took to end after the close."""
    await poll(ready)
    closing = time.perf_counter()
    await llm.close()
    with pytest.raises(ClientClosedError):
        await call
    return time.perf_counter() - closing


async def test_close_fails_a_call_awaiting_its_reply_promptly(
    llm_server: LLMServer, config: LLMConfig
) -> None:
    llm_server.add_faults(Fault(delay=STALL))
    llm = AsyncLLM(config)
    call = asyncio.create_task(llm.chat_completion(HELLO))
    took = await close_while_in_flight(llm, call, lambda: len(llm_server.requests) == 1)
    assert took < PROMPTLY
    assert llm.transport.in_flight == 0
    await poll(lambda: llm_server.connections == 0)


@pytest.mark.parametrize(
    ("stack", "send"),
    [
        (None, lambda llm: llm.completion("hello")),  # through _send
        (None, lambda llm: llm.embeddings("hello")),
        ([], lambda llm: llm.chat_completion(HELLO)),  # to the transport directly
    ],
    ids=["text completion", "embeddings", "chat on an empty stack"],
)
async def test_close_fails_any_call_awaiting_its_reply_promptly(
    llm_server: LLMServer,
    config: LLMConfig,
    stack: list[Any] | None,
    send: Callable[[AsyncLLM], Awaitable[object]],
) -> None:
    llm_server.add_faults(Fault(delay=STALL))
    llm = AsyncLLM(config, middlewares=stack)
    call = asyncio.create_task(send(llm))
    took = await close_while_in_flight(llm, call, lambda: len(llm_server.requests) == 1)
    assert took < PROMPTLY
    assert llm.transport.in_flight == 0


async def test_close_fails_a_stream_awaiting_its_first_event_promptly(
    llm_server: LLMServer, config: LLMConfig
) -> None:
    llm_server.add_faults(Fault(stall_after_events=0, delay=STALL))
    llm = AsyncLLM(attrs.evolve(config, timeout=1))
    call = asyncio.create_task(llm.chat_completion(ASK, stream=True))
    took = await close_while_in_flight(llm, call, lambda: len(llm_server.requests) == 1)
    assert took < PROMPTLY


async def test_close_fails_a_stream_mid_body_promptly(
    llm_server: LLMServer, config: LLMConfig
) -> None:
    llm_server.add_faults(Fault(stall_after_events=2, delay=STALL))
    llm = AsyncLLM(attrs.evolve(config, timeout=1))
    stream = await llm.chat_completion(ASK, stream=True)
    received: list[object] = []

    async def read() -> object:
        async for chunk in stream:
            received.append(chunk)
        return None

    call = asyncio.create_task(read())
    took = await close_while_in_flight(llm, call, lambda: len(received) == 2)
    assert took < PROMPTLY


async def test_close_fails_a_call_in_its_retry_sleep_promptly(
    llm_server: LLMServer, config: LLMConfig
) -> None:
    llm_server.add_faults(Fault(status=503))
    llm = AsyncLLM(attrs.evolve(config, retry_delay=1, max_retry_delay=1))
    call = asyncio.create_task(llm.chat_completion(HELLO))

    def sleeping() -> bool:
        return len(llm_server.requests) == 1 and llm.transport.in_flight == 0

    took = await close_while_in_flight(llm, call, sleeping)
    assert took < PROMPTLY
    assert len(llm_server.requests) == 1
