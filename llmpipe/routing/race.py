"""A hedged request: the first deployment asked, and maybe a second one after a delay.

The first good reply wins (for a stream, its first event: the deployment's
pipeline returns once it is in). The loser is cancelled at once, which
closes its connection mid-request; a loser that finished in the same
instant has its stream closed. A deployment's failure while the other is
still out leaves the race to the other; when every runner failed, the last
failure is the race's, for the router to fall back from. A first request
that lost is recorded in the hedger's latencies at the time it lost (it took
at least that long): left out, the slow tail would vanish from the window
that hedging itself cut, and the percentile would sink, hedging more.
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

_REAPING: set[asyncio.Task[Outcome]] = set()


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
    """Run ``first``; after ``delay`` s without a reply, a hedge to ``pick_hedge()``
    too (if it finds one and the budget allows). The winner's outcome, or the
    last failure."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    primary = loop.create_task(send(first, probe))
    runners: dict[asyncio.Task[Outcome], Replica] = {primary: first}
    hedge_at = started + delay
    hedge: asyncio.Task[Outcome] | None = None
    timer = True  # the hedge is still to come
    last: Outcome | None = None
    try:
        while runners:
            timeout = max(0.0, hedge_at - loop.time()) if timer else None
            done, _ = await asyncio.wait(
                runners, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                timer = False
                second = pick_hedge()
                if second is None or not hedger.budget.withdraw():
                    continue  # nowhere to hedge to, or no budget: the first runs alone
                hedge = loop.create_task(send(second, False))
                runners[hedge] = second
                second.hedges += 1
                request.context.hedges += 1
                logs.debug(
                    _HEDGED,
                    endpoint=request.endpoint,
                    hedge=second.name,
                    delay=delay,
                    first=first.name,
                )
                continue
            winner = None
            for task in done:
                del runners[task]
                outcome = task.result()
                failure = outcome.failure
                if winner is None and (failure is None or not failure.deployment_at_fault):
                    winner = outcome
                    if task is hedge:
                        request.context.hedges_won += 1
                elif failure is None:
                    outcome.discard()  # finished in the same instant as the winner
                else:
                    last = outcome
            if winner is not None:
                return winner
        assert last is not None
        return last
    finally:
        if primary in runners:  # it lost, so it took at least this long: keep the tail known
            hedger.observe(request.stream, loop.time() - started)
        for task in runners:
            task.cancel()
            _REAPING.add(task)
            task.add_done_callback(_reaped)


def _reaped(task: asyncio.Task[Outcome]) -> None:
    """A cancelled runner has ended; a reply it got anyway is let go."""
    _REAPING.discard(task)
    if not task.cancelled() and task.exception() is None:
        task.result().discard()
