"""Load and soak: many calls through a chaos server, nothing lost, nothing leaked.

The chaos server runs in a child process, so the two do not share a GIL and
the RSS measured here is the client's alone (the server keeps every request
it receives). Every call carries a unique content and the server echoes it,
so each outcome is matched to its own call, and through the server's records
and its chaos log to the faults that explain it:

- a call that succeeded got its own echo, after exactly as many faulted
  attempts as it retried;
- a call that failed raised the documented class for the fault of its last
  attempt, and every one of its attempts was faulted;
- all attempts of one call, and only they, share one Idempotency-Key;
- the server saw as many requests as the client counted attempts, plus the
  requests the transport sent again because a pooled connection was reset
  before any reply (not retries: `transport.resent`).

Afterwards: the server has no connection open, the client holds nothing,
asyncio tasks (or threads) are back to their count before, and RSS grew by
less than `RSS_BOUND`. Loopback only; each test has a time limit (`timeout`
marks). The full size is `make soak` (marked slow); a short version runs in
`make test`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

import attrs
import pytest

from llmpipe import (
    LLM,
    AsyncLLM,
    InternalServerError,
    LLMConfig,
    LLMConnectionError,
    LLMError,
    RateLimitError,
)
from llmpipe.testing import LLMServer
from llmpipe.testing.chaos import Chaos, ChaosKind

RATE = 0.1
SEED = 20240501
# The retryable faults, and the error each raises once retries run out.
RAISES = {
    ChaosKind.RATE_LIMIT: RateLimitError,
    ChaosKind.SERVER_ERROR: InternalServerError,
    ChaosKind.HTML_ERROR: InternalServerError,
    ChaosKind.RESET: LLMConnectionError,
    ChaosKind.CLOSE_MID_BODY: LLMConnectionError,
    ChaosKind.DROP_BEFORE_FIRST_EVENT: LLMConnectionError,
}
MAX_RETRIES = 2
RSS_BOUND = 32 * 1024 * 1024  # bytes of growth allowed over a whole run, results included
SETTLE = 10.0  # seconds allowed for connections, tasks and threads to wind down


def content(number: int) -> str:
    return f"call {number}"


def streamed(number: int) -> bool:
    return number % 2 == 1  # half the calls stream


# --- the server process ------------------------------------------------------------


def _serve(pipe: Connection) -> None:
    """The child: a chaos server answering the parent's questions until told to stop."""
    chaos = Chaos(seed=SEED, rate=RATE, faults=list(RAISES), retry_after=0.01)
    server = LLMServer(chaos=chaos)
    with server.run_in_thread():
        pipe.send(server.base_url)
        while (question := pipe.recv()) != "stop":
            if question == "connections":
                pipe.send(server.connections)
            else:  # "report"
                requests = [
                    (r.json["messages"][-1]["content"], r.headers.get("Idempotency-Key"))
                    for r in server.requests
                ]
                pipe.send((requests, [(c.number, c.kind) for c in server.chaos_log]))


class ServerProcess:
    """The parent's handle on `_serve` running in a spawned child process."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # fork is unsafe with threads running
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        child.close()
        self.base_url: str = self._receive()

    def _receive(self) -> Any:
        if not self._pipe.poll(SETTLE * 3):
            raise AssertionError("the chaos server process did not answer in time")
        return self._pipe.recv()

    def ask(self, question: str) -> Any:
        self._pipe.send(question)
        return self._receive()

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the child is gone already
            self._pipe.send("stop")
        self._process.join(SETTLE)
        if self._process.is_alive():
            self._process.kill()
        self._pipe.close()


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    process = ServerProcess()
    try:
        yield process
    finally:
        process.close()


# --- measuring ---------------------------------------------------------------------


def rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def sockets() -> int:
    """Sockets this process holds open."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # the listing's own fd, closed since
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def settled(measure: Callable[[], int], target: int) -> int:
    """`measure()` once it equals `target`, or its last value after SETTLE seconds.

    It blocks: an async test runs it in a thread, so its loop can close sockets meanwhile.
    """
    deadline = time.monotonic() + SETTLE
    value = measure()
    while value != target and time.monotonic() < deadline:
        time.sleep(0.01)
        value = measure()
    return value


@attrs.frozen
class Figures:
    calls: int
    attempts: int
    faults: dict[str, int]
    failures: dict[str, int]
    sockets: tuple[int, int]
    tasks_or_threads: tuple[int, int]
    rss_mib: tuple[float, float]
    seconds: float


# --- the checks ----------------------------------------------------------------------


def check_outcomes(outcomes: list[str | LLMError], server: ServerProcess) -> dict[str, Any]:
    """Match every outcome to its call and its causes; return the faults and failures."""
    requests, chaos_log = server.ask("report")
    faulted = dict(chaos_log)
    attempts: dict[str, list[int]] = collections.defaultdict(list)
    keys: dict[str, set[str]] = collections.defaultdict(set)
    for number, (text, key) in enumerate(requests, start=1):
        attempts[text].append(number)
        keys[text].add(key)
    assert set(attempts) == {content(n) for n in range(len(outcomes))}, "a call lost or made up"
    failures: collections.Counter[str] = collections.Counter()
    for number, outcome in enumerate(outcomes):
        mine = attempts[content(number)]
        assert len(mine) >= 1  # more than MAX_RETRIES + 1 only with resends, counted below
        assert len(keys[content(number)]) == 1
        if isinstance(outcome, LLMError):
            failures[type(outcome).__name__] += 1
            assert all(n in faulted for n in mine), (number, outcome)
            assert type(outcome) is RAISES[faulted[mine[-1]]], (number, outcome)
        else:
            assert outcome == f"Echo: {content(number)}"
            assert [n in faulted for n in mine] == [True] * (len(mine) - 1) + [False]
    assert len(set().union(*keys.values())) == len(outcomes)
    return {
        "requests": len(requests),
        "faults": dict(collections.Counter(str(kind) for kind in faulted.values())),
        "failures": dict(failures),
    }


def config(server: ServerProcess) -> LLMConfig:
    return LLMConfig(
        base_url=server.base_url,
        timeout=10,
        retry_delay=0.01,
        max_retry_delay=0.05,
        max_retries=MAX_RETRIES,
    )


# --- async: N calls at concurrency C -------------------------------------------------


async def call_async(llm: AsyncLLM, number: int) -> str | LLMError:
    messages = [{"role": "user", "content": content(number)}]
    try:
        if streamed(number):
            stream = await llm.chat_completion(messages, stream=True)
            reply = await stream.collect()
        else:
            reply = await llm.chat_completion(messages)
    except LLMError as error:
        return error
    return reply.choices[0].message.content or ""


async def run_async(server: ServerProcess, calls: int, concurrency: int) -> Figures:
    tasks_before, sockets_before, rss_before = len(asyncio.all_tasks()), sockets(), rss()
    started = time.perf_counter()
    outcomes: list[str | LLMError] = [""] * calls
    numbers = iter(range(calls))

    async with AsyncLLM(config(server)) as llm:

        async def worker() -> None:
            for number in numbers:
                outcomes[number] = await call_async(llm, number)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        stats, resent = llm.get_stats(), llm.transport.resent
        assert llm.transport.in_flight == 0
    seconds = time.perf_counter() - started

    assert not llm.transport.holds_resources
    assert await asyncio.to_thread(settled, lambda: server.ask("connections"), 0) == 0
    sockets_after = await asyncio.to_thread(settled, sockets, sockets_before)
    for _ in range(int(SETTLE / 0.01)):
        if len(asyncio.all_tasks()) == tasks_before:
            break
        await asyncio.sleep(0.01)
    tasks_after, rss_after = len(asyncio.all_tasks()), rss()
    seen = check_outcomes(outcomes, server)
    assert (stats.requests, stats.attempts + resent) == (calls, seen["requests"])
    assert stats.failures == sum(seen["failures"].values())
    assert sockets_after == sockets_before
    assert tasks_after == tasks_before
    assert rss_after - rss_before < RSS_BOUND
    return Figures(
        calls,
        seen["requests"],
        seen["faults"],
        seen["failures"],
        (sockets_before, sockets_after),
        (tasks_before, tasks_after),
        (rss_before / 2**20, rss_after / 2**20),
        seconds,
    )


@pytest.mark.timeout(60)
async def test_1000_async_calls_at_concurrency_50_through_chaos_lose_and_leak_nothing(
    server: ServerProcess,
) -> None:
    figures = await run_async(server, calls=1000, concurrency=50)
    print(figures)


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_20000_async_calls_at_concurrency_200_through_chaos_lose_and_leak_nothing(
    server: ServerProcess,
) -> None:
    figures = await run_async(server, calls=20_000, concurrency=200)
    print(figures)


# --- sync: T threads sharing one LLM -------------------------------------------------


def call_sync(llm: LLM, number: int) -> str | LLMError:
    messages = [{"role": "user", "content": content(number)}]
    try:
        if streamed(number):
            reply = llm.chat_completion(messages, stream=True).collect()
        else:
            reply = llm.chat_completion(messages)
    except LLMError as error:
        return error
    return reply.choices[0].message.content or ""


def run_threads(server: ServerProcess, threads: int, calls_each: int) -> Figures:
    calls = threads * calls_each
    outcomes: list[str | LLMError] = [""] * calls
    barrier = threading.Barrier(threads)

    def worker(first: int) -> None:
        barrier.wait(timeout=SETTLE)
        for number in range(first, calls, threads):
            outcomes[number] = call_sync(llm, number)

    threads_before, sockets_before, rss_before = threading.active_count(), sockets(), rss()
    started = time.perf_counter()
    with LLM(config(server)) as llm, ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(worker, range(threads)))
        stats, resent = llm.get_stats(), llm.async_client.transport.resent
        assert llm.async_client.transport.in_flight == 0
    seconds = time.perf_counter() - started

    assert not llm.async_client.transport.holds_resources
    assert settled(lambda: server.ask("connections"), 0) == 0
    sockets_after = settled(sockets, sockets_before)
    threads_after, rss_after = settled(threading.active_count, threads_before), rss()
    seen = check_outcomes(outcomes, server)
    assert (stats.requests, stats.attempts + resent) == (calls, seen["requests"])
    assert stats.failures == sum(seen["failures"].values())
    assert sockets_after == sockets_before
    assert threads_after == threads_before
    assert rss_after - rss_before < RSS_BOUND
    return Figures(
        calls,
        seen["requests"],
        seen["faults"],
        seen["failures"],
        (sockets_before, sockets_after),
        (threads_before, threads_after),
        (rss_before / 2**20, rss_after / 2**20),
        seconds,
    )


@pytest.mark.timeout(60)
def test_10_threads_sharing_one_llm_through_chaos_lose_and_leak_nothing(
    server: ServerProcess,
) -> None:
    figures = run_threads(server, threads=10, calls_each=30)
    print(figures)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_50_threads_sharing_one_llm_for_20000_calls_through_chaos_lose_and_leak_nothing(
    server: ServerProcess,
) -> None:
    figures = run_threads(server, threads=50, calls_each=400)
    print(figures)
