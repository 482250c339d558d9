"""Ctrl-C in the sync shim, run in a process of its own: `python -m tests.ctrl_c_child NAME`.

A real SIGINT goes to the main thread, as Ctrl-C sends it. In the pytest
process a call that misbehaves could let it land in pytest itself and end
the whole run; here it can end only this child. The child prints what it
observed as one JSON object, and test_cancellation.py asserts on it.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs

import llmpipe._loop_driver
import llmpipe.sync
from llmpipe import LLM, LLMConfig
from llmpipe.testing import Fault, LLMServer

HELLO = [{"role": "user", "content": "hello"}]
ASK = [{"role": "user", "content": "one two three four five six"}]
STALL = 5.0  # far longer than the call may take once interrupted
WITHIN = 5.0  # bound on every poll
SHIM_FILES = {llmpipe.sync.__file__, llmpipe._loop_driver.__file__}


def wait_until(condition: Callable[[], bool], within: float = WITHIN) -> bool:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def main_thread_is_blocked() -> bool:
    """Whether the main thread has sat on one line for 10 ms inside a sync shim
    call (running or awaiting its loop), not between two calls or making one."""

    def where() -> tuple[str, int, bool] | None:
        frame = sys._current_frames().get(threading.main_thread().ident or 0)
        if frame is None:
            return None
        innermost = (frame.f_code.co_filename, frame.f_lineno)
        in_shim = False
        while frame is not None:
            in_shim = in_shim or frame.f_code.co_filename in SHIM_FILES
            frame = frame.f_back
        return (*innermost, in_shim)

    first = where()
    time.sleep(0.01)
    return first is not None and first[2] and where() == first


@attrs.define
class Interrupt:
    sent_at: float | None = None


@contextlib.contextmanager
def ctrl_c_when(condition: Callable[[], bool]) -> Iterator[Interrupt]:
    """Send SIGINT to the main thread once `condition()` holds and the main
    thread is blocked in a call (not between two of them)."""
    interrupt = Interrupt()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)

    def fire() -> None:
        if wait_until(lambda: condition() and main_thread_is_blocked()):
            interrupt.sent_at = time.perf_counter()
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    timer = threading.Thread(target=fire, daemon=True)
    timer.start()
    try:
        yield interrupt
    finally:
        timer.join(WITHIN)
        signal.signal(signal.SIGINT, previous)


def interrupted(call: Callable[[], object], interrupt: Interrupt) -> dict[str, Any]:
    """Run `call`, expecting Ctrl-C: what was raised, and how long after the signal."""
    try:
        call()
    except KeyboardInterrupt:
        raised = "KeyboardInterrupt"
    else:
        raised = None
    took = None if interrupt.sent_at is None else time.perf_counter() - interrupt.sent_at
    return {"raised": raised, "after_signal": took}


def while_waiting_for_a_reply(server: LLMServer, config: LLMConfig) -> dict[str, Any]:
    server.add_faults(Fault(delay=STALL))
    with LLM(config) as llm:
        with ctrl_c_when(lambda: len(server.requests) == 1) as interrupt:
            seen = interrupted(lambda: llm.chat_completion(HELLO), interrupt)
        seen["connection_closed"] = wait_until(lambda: server.connections == 0)
        seen["released"] = wait_until(lambda: llm.async_client.transport.in_flight == 0)
        seen["next_reply"] = llm.chat_completion(HELLO).choices[0].message.content
    return seen


def during_the_retry_sleep(server: LLMServer, config: LLMConfig) -> dict[str, Any]:
    server.add_faults(Fault(status=503))
    with LLM(attrs.evolve(config, retry_delay=STALL, max_retry_delay=STALL)) as llm:
        transport = llm.async_client.transport

        def sleeping() -> bool:  # the 503 came back, and its connection was given back
            return len(server.requests) == 1 and transport.in_flight == 0

        with ctrl_c_when(sleeping) as interrupt:
            seen = interrupted(lambda: llm.chat_completion(HELLO), interrupt)
        seen["counted"] = wait_until(lambda: llm.get_stats().attempts == 1)
        seen["requests"] = len(server.requests)
        seen["next_reply"] = llm.chat_completion(HELLO).choices[0].message.content
    return seen


def mid_stream(server: LLMServer, config: LLMConfig) -> dict[str, Any]:
    server.add_faults(Fault(stall_after_events=2, delay=STALL))
    received: list[object] = []
    with LLM(config) as llm:
        stream = llm.chat_completion(ASK, stream=True)

        def read() -> None:
            for chunk in stream:
                received.append(chunk)

        with ctrl_c_when(lambda: len(received) == 2) as interrupt:
            seen = interrupted(read, interrupt)
        seen["received"] = len(received)
        seen["connection_closed"] = wait_until(lambda: server.connections == 0)
        seen["released"] = wait_until(lambda: llm.async_client.transport.in_flight == 0)
        reply = llm.chat_completion(ASK, stream=True).collect()
        seen["next_reply"] = reply.choices[0].message.content
    return seen


SCENARIOS = {
    "reply": while_waiting_for_a_reply,
    "retry-sleep": during_the_retry_sleep,
    "mid-stream": mid_stream,
}


def main(name: str) -> None:
    with LLMServer().run_in_thread() as server:
        config = LLMConfig(base_url=server.base_url, retry_delay=0.01, max_retry_delay=0.5)
        seen = SCENARIOS[name](server, config)
    print(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1])
