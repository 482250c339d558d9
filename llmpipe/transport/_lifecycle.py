"""The pools of one transport, across recycling, event loops and forks.

One pool is current; recycled ones retire and close with their last call. A
pool belongs to the loop that opened it, in the process that opened it:

- a pool whose loop has closed (a second ``asyncio.run``) is dropped, and
  the next call opens one on its own loop;
- a pool whose loop is running elsewhere right now means the client is used
  from two loops at once: refused, naming the fix;
- in a forked child every pool is the parent's: kept untouched (``_fork``),
  and the child's first call opens its own.

Streamed bodies still being read are tracked weakly here too, so closing the
client can wake their readers, and a dropped stream can still be collected.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from llmpipe._fork import keep_inherited, watch
from llmpipe.errors import LLMError

if TYPE_CHECKING:
    from llmpipe.transport._body import ReplyBody
    from llmpipe.transport._pool import Pool

__all__ = ["Pools"]

Open = Callable[[asyncio.AbstractEventLoop], "Pool"]


class Pools:
    """The current pool, the retiring ones, and the streamed bodies being read."""

    def __init__(self, open_pool: Open) -> None:
        self._open = open_pool
        self.current: Pool | None = None
        self._retiring: set[Pool] = set()
        self._closing: set[asyncio.Task[None]] = set()  # retired pools being closed
        self.bodies: weakref.WeakSet[ReplyBody] = weakref.WeakSet()
        watch(self)

    def all(self) -> list[Pool]:
        return [p for p in (self.current, *self._retiring) if p is not None]

    @property
    def in_flight(self) -> int:
        return sum(p.in_flight for p in self.all())

    @property
    def holds_resources(self) -> bool:
        return any(not (pool.closed or pool.inherited) for pool in self.all())

    async def open_here(self, loop: asyncio.AbstractEventLoop) -> Pool:
        """A new current pool on ``loop`` (after letting go of those of other loops)."""
        self._let_go_of_others(loop)
        pool = self.current = self._open(loop)
        await pool.close_with_loop()
        return pool

    def _let_go_of_others(self, loop: asyncio.AbstractEventLoop) -> None:
        others = [p for p in self.all() if p.closed or not p.here(loop)]
        for pool in others:
            if not pool.inherited and not pool.closed and pool.loop.is_running():
                raise LLMError(
                    "this client is in use on another event loop right now, and its "
                    "connections belong to that loop; create one AsyncLLM per event loop "
                    "(per thread), or share one sync LLM, which is thread-safe"
                )
        for pool in others:
            if pool.inherited:
                keep_inherited(pool)
            else:
                pool.drop()
            if pool is self.current:
                self.current = None
            self._retiring.discard(pool)

    def leave(self, pool: Pool) -> None:
        """A call is done with ``pool``; a retired pool closes with its last call.
        (``AiohttpTransport.send`` writes out the usual case, a pool not retiring.)"""
        pool.in_flight -= 1
        if pool.retiring and pool.in_flight == 0:
            self._retiring.discard(pool)
            task = pool.loop.create_task(pool.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def recycle(self, loop: asyncio.AbstractEventLoop) -> None:
        """Retire the current pool; it closes once its calls are done."""
        self._let_go_of_others(loop)
        pool, self.current = self.current, None
        if pool is None:
            return
        if pool.in_flight:
            pool.retiring = True
            self._retiring.add(pool)
        else:
            await pool.close()

    async def close(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wake readers of open bodies, close this loop's pools, let go of the rest."""
        for body in list(self.bodies):
            if body.slot.pool.here(loop):
                body.abort()  # the reader then raises ClientClosedError
        pools = self.all()
        self.current = None
        self._retiring.clear()
        for pool in pools:
            if pool.here(loop):
                await pool.close()
            elif pool.inherited:
                keep_inherited(pool)
            else:
                pool.drop()
        closing = [task for task in self._closing if task.get_loop() is loop]
        if closing:
            await asyncio.gather(*closing, return_exceptions=True)

    def abandon(self) -> None:
        """Let go of every pool without awaiting (the client was dropped unclosed)."""
        pools = self.all()
        self.current = None
        self._retiring.clear()
        for pool in pools:
            if pool.inherited:
                keep_inherited(pool)
            else:
                pool.drop()

    def after_fork(self) -> None:
        """In a forked child: the parent's pools stay untouched; the next call opens one."""
        keep_inherited(*self.all(), *self._closing)
        self.current = None
        self._retiring = set()
        self._closing = set()
        self.bodies = weakref.WeakSet()
