"""A hedged request: the first deployment asked, and maybe a second one after a delay.

The first good reply wins (for a stream, its first event: the deployment's
pipeline returns once it is in). The loser is cancelled at once, which
closes its connection mid-request; a loser that finished in the same
instant has its stream closed. A deployment's failure while the other is
still out leaves the race to the other; when both failed, the last failure
is the race's, for the router to fall back from.

The first request runs in the caller's own task, and the hedge, when one is
needed, in a task of its own started by a timer: a call that is not hedged
(most are) costs no task and no extra turn of the loop. A hedge that wins
interrupts the first request by cancelling the caller's task, and the race
takes that cancellation back (``Task.uncancel``, as ``asyncio.timeout``
does); a cancellation from anyone else goes through, and takes the hedge
with it.

The hedge's task picks its deployment and spends the budget on its first
step, a turn of the loop after the timer: a first reply that arrived in the
timer's own turn has ended the race by then, and the hedge is neither sent
nor counted (nor paid for) at all.

A first request that lost is recorded in the hedger's latencies at the time
it lost (it took at least that long): left out, the slow tail would vanish
from the window that hedging itself cut, and the percentile would sink,
hedging more and more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from llmpipe import logs
from llmpipe.request import LLMRequest
from llmpipe.routing.attempt import Outcome
from llmpipe.routing.hedge import Hedger
from llmpipe.routing.replica import Replica

__all__ = ["race"]

_HEDGED = "router: {endpoint} hedged to {hedge} after {delay:.3f} s on {first}"

Send = Callable[[Replica, bool], Coroutine[Any, Any, Outcome]]
"""Sends the request to a replica (``probe`` flag) and returns how it ended."""

_REAPING: set[asyncio.Task[Outcome | None]] = set()


def _good(outcome: Outcome) -> bool:
    """A reply the call can have: a success, or a failure no other deployment would fix."""
    failure = outcome.failure
    return failure is None or not failure.deployment_at_fault


class _Hedge:
    """The hedge's side of one race: started by the timer, watched by a callback."""

    __slots__ = ("caller", "first_done", "task", "won")

    def __init__(self, caller: asyncio.Task[Any]) -> None:
        self.caller = caller
        self.task: asyncio.Task[Outcome | None] | None = None
        self.won: Outcome | None = None
        self.first_done = False

    def finished(self, task: asyncio.Task[Outcome | None]) -> None:
        if self.first_done or task.cancelled() or task.exception() is not None:
            return  # the first request's path deals with it
        outcome = task.result()
        if outcome is not None and _good(outcome):
            self.won = outcome
            self.caller.cancel()  # interrupt the first request; taken back in race()


async def race(
    first: Replica,
    probe: bool,
    request: LLMRequest,
    *,
    delay: float,
    hedger: Hedger,
    pick_hedge: Callable[[], Replica | None],
    send: Send,
) -> Outcome:
    """Send to ``first``; after ``delay`` s without a reply, a hedge to ``pick_hedge()``
    too (if it finds one and the budget allows). The winner's outcome, or the
    last failure."""
    loop = asyncio.get_running_loop()
    caller = asyncio.current_task()
    assert caller is not None
    hedge = _Hedge(caller)
    started = loop.time()

    def start() -> None:
        if not hedge.first_done:
            hedge.task = loop.create_task(hedged())
            hedge.task.add_done_callback(hedge.finished)

    async def hedged() -> Outcome | None:
        if hedge.first_done:
            return None
        second = pick_hedge()
        if second is None or not hedger.budget.withdraw():
            return None  # nowhere to hedge to, or no budget: the first runs alone
        second.hedges += 1
        request.context.hedges += 1
        logs.debug(
            _HEDGED, endpoint=request.endpoint, hedge=second.name, delay=delay, first=first.name
        )
        return await send(second, False)

    timer = loop.call_later(delay, start)
    try:
        outcome = await send(first, probe)
    except asyncio.CancelledError:
        hedge.first_done = True
        timer.cancel()
        won = hedge.won
        if won is None:
            _cancel(hedge.task)  # the call itself was cancelled: the hedge goes too
            raise
        if caller.uncancel() > 0:  # cancelled by someone else as well
            won.discard()
            raise
        request.context.hedges_won += 1
        hedger.observe(request.stream, loop.time() - started)
        return won
    hedge.first_done = True
    timer.cancel()
    task = hedge.task
    if task is None:
        return outcome
    if hedge.won is not None:  # the first came back although interrupted: keep it
        caller.uncancel()
        hedge.won.discard()
        return outcome
    if _good(outcome):
        _cancel(task)  # its reply, if it gets one, is let go
        return outcome
    if not task.done():
        try:
            late = await task  # the first failed: the hedge may still answer
        except asyncio.CancelledError:
            _cancel(task)
            raise
    elif task.cancelled() or task.exception() is not None:
        return outcome
    else:
        late = task.result()
    if late is None:  # the hedge was not sent after all
        return outcome
    if _good(late):
        request.context.hedges_won += 1
    return late


def _cancel(task: asyncio.Task[Outcome | None] | None) -> None:
    """Cancel a runner that lost; a reply it gets anyway is let go."""
    if task is None or task in _REAPING:
        return
    task.cancel()
    _REAPING.add(task)
    task.add_done_callback(_reaped)


def _reaped(task: asyncio.Task[Outcome | None]) -> None:
    _REAPING.discard(task)
    if not task.cancelled() and task.exception() is None:
        outcome = task.result()
        if outcome is not None:
            outcome.discard()
