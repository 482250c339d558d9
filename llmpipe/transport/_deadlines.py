"""One timer per pool bounds every attempt in flight on it.

aiohttp's per-request ``ClientTimeout(total=...)`` schedules a loop timer,
builds a timer context and registers callbacks for every request, and cancels
it all when the connection is released; ``asyncio.timeout`` schedules and
cancels a timer per call as well. Here an attempt only notes its task and its
deadline. The pool's one timer is armed at the earliest deadline noted while
it was not armed earlier: when it fires it cancels the tasks whose deadline
has passed (they then raise ``TimeoutError``, as under ``asyncio.timeout``)
and re-arms at the earliest deadline still noted. Attempts that end in time
just leave; with steady traffic the timer fires about once per timeout.

A task is cancelled only while it waits inside its attempt: it is noted on
entry and leaves before its attempt returns, with no await in between.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

__all__ = ["Deadlines"]

# A timer may run this much before its time (asyncio runs those due within the
# clock's resolution): a deadline that close is due, not re-armed for a moment.
_RESOLUTION = time.get_clock_info("monotonic").resolution


class Deadlines:
    """The deadlines of the attempts in flight on one loop, and the timer that enforces them."""

    __slots__ = ("_at", "_expired", "_handle", "_loop", "_tasks")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._tasks: dict[asyncio.Task[Any], float] = {}  # each attempt's task: its deadline
        self._expired: set[asyncio.Task[Any]] = set()  # cancelled by us, not yet told
        self._handle: asyncio.TimerHandle | None = None
        self._at = math.inf  # when the handle fires

    def enter(self, task: asyncio.Task[Any], seconds: float) -> None:
        """Bound ``task``'s attempt to ``seconds`` from now (one attempt per task at a time)."""
        at = self._loop.time() + seconds
        self._tasks[task] = at
        if at < self._at:
            self._arm(at)

    def leave(self, task: asyncio.Task[Any], cancelling: int) -> bool:
        """The attempt of ``task`` is over. True if it was cancelled for its deadline
        alone (the caller then raises ``TimeoutError``); ``cancelling`` is
        ``task.cancelling()`` as it was on entry."""
        del self._tasks[task]
        if not self._expired or task not in self._expired:
            return False
        self._expired.discard(task)
        return task.uncancel() <= cancelling

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._at = math.inf

    def _arm(self, at: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._loop.call_at(at, self._fire)
        self._at = at

    def _fire(self) -> None:
        self._handle = None
        self._at = math.inf
        now = self._loop.time() + _RESOLUTION
        earliest = math.inf
        for task, at in self._tasks.items():
            if at <= now:
                if task not in self._expired:
                    self._expired.add(task)
                    task.cancel()
            elif at < earliest:
                earliest = at
        if earliest < math.inf:
            self._arm(earliest)
