"""Calls waiting for a deployment: for room under a limit, or for a cooldown to end.

One queue per alias. A finished request wakes the first waiter, a breaker
that closes wakes them all; a waiter also wakes at a time of its choosing
(a cooldown's end, its deadline). Waiters are served first come, first
served; one woken for nothing (the room went elsewhere) waits again.
"""

from __future__ import annotations

import asyncio
import collections

__all__ = ["WaitQueue"]


class WaitQueue:
    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def __len__(self) -> int:
        return sum(not waiter.done() for waiter in self._waiters)

    def wake_one(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def wake_all(self) -> None:
        waiters, self._waiters = self._waiters, collections.deque()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, until: float | None) -> None:
        """Until woken, or until the loop time ``until`` (None: no time limit)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            if until is None:
                await waiter
            else:
                async with asyncio.timeout_at(until):
                    await waiter
        except TimeoutError:
            pass
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.wake_one()  # woken, then cancelled: the turn goes to the next
            raise
        finally:
            if not waiter.done():
                waiter.cancel()
