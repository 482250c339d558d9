"""LoopDriver: the usual call's written-out path gives what the general one gives.

``LoopDriver.run`` runs the usual call (one thread, loop made, not closed)
inline; ``_drive_call`` is the general path the other cases take. Each
outcome is taken through both and compared.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

from llmpipe._loop_driver import LoopDriver

caller_var: contextvars.ContextVar[str] = contextvars.ContextVar("caller_var", default="unset")


@pytest.fixture
def driver() -> Iterator[LoopDriver]:
    runner = LoopDriver()
    runner.run(asyncio.sleep(0))  # the loop is made: the next calls take the usual path
    yield runner
    runner.stop(asyncio.sleep(0))


def both_paths(driver: LoopDriver, make: Callable[[], Coroutine[Any, Any, Any]]) -> list[Any]:
    """What ``make()``'s call gives through ``run`` and through the general path."""
    outcomes: list[Any] = []
    for path in (driver.run, lambda coro: driver._run(driver._loop, coro)):  # type: ignore[arg-type]
        try:
            outcomes.append(("returned", path(make())))
        except BaseException as error:
            outcomes.append(("raised", type(error), str(error)))
    return outcomes


async def answer() -> tuple[str, bool]:
    await asyncio.sleep(0)
    return "answer", asyncio.current_task() is not None


async def fail() -> None:
    await asyncio.sleep(0)
    raise ValueError("the call's own error")


async def cancelled() -> None:
    task = asyncio.current_task()
    assert task is not None
    task.cancel()
    await asyncio.sleep(0)


async def read_and_set() -> str:
    seen = caller_var.get()
    caller_var.set("set inside the call")
    return seen


def test_both_paths_return_the_result_and_run_the_call_in_a_task(driver: LoopDriver) -> None:
    assert both_paths(driver, answer) == [("returned", ("answer", True))] * 2


def test_both_paths_raise_the_calls_own_error(driver: LoopDriver) -> None:
    assert both_paths(driver, fail) == [("raised", ValueError, "the call's own error")] * 2


def test_both_paths_raise_cancelled_error_for_a_cancelled_call(driver: LoopDriver) -> None:
    assert both_paths(driver, cancelled) == [("raised", asyncio.CancelledError, "")] * 2


def test_both_paths_run_the_call_in_a_copy_of_the_callers_context(driver: LoopDriver) -> None:
    token = caller_var.set("set by the caller")
    try:
        outcomes = both_paths(driver, read_and_set)
        after = caller_var.get()
    finally:
        caller_var.reset(token)
    assert outcomes == [("returned", "set by the caller")] * 2
    assert after == "set by the caller"  # what the call set stayed in the call


def test_both_paths_leave_no_loop_running_and_the_lock_free(driver: LoopDriver) -> None:
    both_paths(driver, answer)
    assert asyncio._get_running_loop() is None
    assert driver._drive.acquire(False)
    driver._drive.release()


def test_a_forked_child_lets_go_of_the_parents_loop_and_makes_its_own() -> None:
    driver = LoopDriver()
    driver.run(asyncio.sleep(0))
    parents = driver._loop
    driver.after_fork()  # what _fork calls in a child, at the fork
    assert not driver.started
    assert driver.run(answer()) == ("answer", True)
    assert driver._loop is not parents
    driver.stop(asyncio.sleep(0))
