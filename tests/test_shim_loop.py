"""The sync shim's private loop (``llmpipe._shim_loop``) behaves as asyncio's.

Each test runs the same scenario on the shim's loop and on
``asyncio.new_event_loop()`` and compares what each did.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from llmpipe._shim_loop import new_shim_loop


def on_both(scenario: Callable[[asyncio.AbstractEventLoop], Any]) -> tuple[Any, Any]:
    """``scenario``'s result on the shim's loop, then on asyncio's."""
    results = []
    for make in (new_shim_loop, asyncio.new_event_loop):
        loop = make()
        try:
            results.append(scenario(loop))
        finally:
            loop.close()
    return results[0], results[1]


def test_the_shim_loop_is_the_cheaper_one_here():
    loop = new_shim_loop()
    try:
        assert type(loop) is not asyncio.SelectorEventLoop
        assert loop._own_poll is True  # type: ignore[attr-defined]  # its _run_once is in use
    finally:
        loop.close()


def _callbacks_timers_and_io(loop: asyncio.AbstractEventLoop) -> list[str]:
    """Ready callbacks, timers due and not, a cancelled timer, a readable socket,
    and callbacks scheduled by callbacks, run to the end."""
    seen: list[str] = []
    left, right = socket.socketpair()
    left.setblocking(False)

    def on_readable() -> None:
        seen.append("readable:" + left.recv(10).decode())
        loop.remove_reader(left)
        loop.call_soon(seen.append, "after-read")

    def chain(n: int) -> None:
        seen.append(f"chain{n}")
        if n < 3:
            loop.call_soon(chain, n + 1)

    try:
        loop.add_reader(left, on_readable)
        right.send(b"ping")
        loop.call_soon(chain, 1)
        loop.call_later(0, seen.append, "timer-now")
        loop.call_later(0.03, seen.append, "timer-later")
        loop.call_later(0.01, seen.append, "cancelled").cancel()
        loop.call_soon(seen.append, "soon")
        loop.run_until_complete(asyncio.sleep(0.05))
    finally:
        left.close()
        right.close()
    return seen


def test_callbacks_timers_and_io_run_in_asyncios_order():
    shim, stock = on_both(_callbacks_timers_and_io)
    assert shim == stock
    assert "cancelled" not in shim
    assert "timer-later" in shim


def _one_iteration_at_a_time(loop: asyncio.AbstractEventLoop) -> list[list[str]]:
    """What each iteration runs: a callback scheduled now waits for the next one."""
    seen: list[str] = []
    per_turn: list[list[str]] = []
    loop.call_soon(lambda: (seen.append("a"), loop.call_soon(seen.append, "b")))
    loop.call_soon(seen.append, "c")
    for _ in range(2):  # a third, with nothing ready or due, would wait forever
        loop._run_once()  # type: ignore[attr-defined]
        per_turn.append(list(seen))
        seen.clear()
    return per_turn


def test_each_iteration_runs_only_what_was_ready_when_it_began():
    shim, stock = on_both(_one_iteration_at_a_time)
    assert shim == stock == [["a", "c"], ["b"]]


def _failing_callback(loop: asyncio.AbstractEventLoop) -> tuple[str, str, bool, list[str]]:
    reported: list[dict[str, Any]] = []
    seen: list[str] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))

    def fails() -> None:
        raise ValueError("boom")

    loop.call_soon(fails)
    loop.call_soon(seen.append, "still runs")
    loop.run_until_complete(asyncio.sleep(0))
    (context,) = reported
    return (
        context["message"].split(" at ")[0],
        repr(context["exception"]),
        isinstance(context["handle"], asyncio.Handle),
        seen,
    )


def test_a_failing_callback_is_reported_as_asyncio_reports_it():
    shim, stock = on_both(_failing_callback)
    assert shim == stock
    assert shim[0].startswith("Exception in callback")


def _interrupted(loop: asyncio.AbstractEventLoop) -> tuple[bool, int]:
    def interrupt() -> None:
        raise KeyboardInterrupt

    loop.call_soon(interrupt)
    loop.call_soon(lambda: None)
    try:
        loop._run_once()  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        return True, len(loop._ready)  # type: ignore[attr-defined]
    return False, len(loop._ready)  # type: ignore[attr-defined]


def test_ctrl_c_in_a_callback_leaves_the_loop_and_the_rest_ready_as_asyncio_does():
    shim, stock = on_both(_interrupted)
    assert shim == stock == (True, 1)


def _many_cancelled_timers(loop: asyncio.AbstractEventLoop) -> tuple[int, int, list[int]]:
    fired: list[int] = []
    timers = [loop.call_later(0.001 * n, fired.append, n) for n in range(150)]
    for timer in timers[:120]:
        timer.cancel()
    loop._run_once()  # type: ignore[attr-defined]
    state: Any = loop
    left = (len(state._scheduled), state._timer_cancelled_count)
    loop.run_until_complete(asyncio.sleep(0.2))
    return left[0], left[1], fired


def test_cancelled_timers_are_dropped_as_asyncio_drops_them():
    shim, stock = on_both(_many_cancelled_timers)
    assert shim == stock
    assert shim[2] == list(range(120, 150))


def _a_few_cancelled_at_the_head(loop: asyncio.AbstractEventLoop) -> tuple[int, int]:
    timers = [loop.call_later(10 + n, lambda: None) for n in range(5)]
    timers[0].cancel()
    timers[1].cancel()
    loop.call_soon(lambda: None)
    loop._run_once()  # type: ignore[attr-defined]
    state: Any = loop
    return len(state._scheduled), state._timer_cancelled_count


def test_cancelled_timers_at_the_heads_are_dropped_as_asyncio_drops_them():
    shim, stock = on_both(_a_few_cancelled_at_the_head)
    assert shim == stock == (3, 0)


def test_the_poll_waits_for_the_next_timer_and_no_less():
    loop = new_shim_loop()
    try:
        started = time.monotonic()
        loop.run_until_complete(asyncio.sleep(0.02))
        waited = time.monotonic() - started
    finally:
        loop.close()
    assert waited >= 0.02


def test_in_debug_mode_asyncios_own_iteration_runs_and_warns_of_slow_callbacks():
    loop = new_shim_loop()
    warned: list[str] = []
    try:
        loop.set_debug(True)
        loop.slow_callback_duration = 0.0
        loop.set_exception_handler(lambda _, context: None)
        handler = _Collect(warned)
        logging.getLogger("asyncio").addHandler(handler)
        try:
            loop.call_soon(time.sleep, 0.001)
            loop.run_until_complete(asyncio.sleep(0))
        finally:
            logging.getLogger("asyncio").removeHandler(handler)
    finally:
        loop.close()
    assert any("Executing" in message for message in warned)


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__()
        self._into = into

    def emit(self, record: Any) -> None:
        self._into.append(record.getMessage())


def _noted(*args: object) -> None:
    return None


HANDLE_SLOTS = ("_callback", "_args", "_cancelled", "_source_traceback", "_repr", "_context")


def test_the_shim_loops_call_soon_makes_the_handle_asyncios_makes():
    shim = new_shim_loop()
    stock = asyncio.new_event_loop()
    context = contextvars.copy_context()
    try:
        assert type(shim) is not type(stock)  # the cheaper call_soon is in use here
        made = [loop.call_soon(_noted, 1, "two", context=context) for loop in (shim, stock)]
        assert [type(handle) for handle in made] == [asyncio.Handle] * 2
        assert [handle._loop for handle in made] == [shim, stock]
        slots = [{slot: getattr(handle, slot) for slot in HANDLE_SLOTS} for handle in made]
        assert slots[0] == slots[1]
        assert list(shim._ready) == [made[0]]
    finally:
        shim.close()
        stock.close()


_seen_by_handles: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="unset")


def test_the_shim_loops_call_soon_without_a_context_runs_in_a_copy_of_the_callers():
    loop = new_shim_loop()
    token = _seen_by_handles.set("the caller's")
    try:
        handle = loop.call_soon(_noted)
    finally:
        _seen_by_handles.reset(token)
        loop.close()
    assert handle._context.run(_seen_by_handles.get) == "the caller's"


@pytest.mark.parametrize("debug", [False, True], ids=["shim", "asyncio's, in debug mode"])
def test_the_shim_loops_call_soon_refuses_a_closed_loop_as_asyncio_does(debug):
    loop = new_shim_loop()
    loop.set_debug(debug)
    loop.close()
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        loop.call_soon(_noted)


def test_under_an_event_loop_policy_the_shim_loop_is_the_policys():
    class Policy(asyncio.DefaultEventLoopPolicy):
        pass

    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(Policy())
    try:
        loop = new_shim_loop()
    finally:
        asyncio.set_event_loop_policy(previous)
    loop.close()
    assert type(loop) is asyncio.SelectorEventLoop


def test_the_shim_loops_get_debug_follows_set_debug_as_asyncios_does():
    loop = new_shim_loop()
    try:
        seen = [loop.get_debug()]
        loop.set_debug(True)
        seen.append(loop.get_debug())
        seen.append(loop.create_future()._source_traceback is not None)  # asked in C
        loop.set_debug(False)
        seen.append(loop.get_debug())
    finally:
        loop.close()
    assert seen == [False, True, True, False]


def test_the_shim_loops_time_is_asyncios_clock():
    loop = new_shim_loop()
    stock = asyncio.new_event_loop()
    try:
        before = stock.time()
        now = loop.time()
        after = stock.time()
    finally:
        loop.close()
        stock.close()
    assert before <= now <= after
