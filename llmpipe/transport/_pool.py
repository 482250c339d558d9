"""A pool (one aiohttp ClientSession, on one loop, in one process) and a call's hold on it.

Recycling a pool must not cut the calls still using it, so each call holds a
``Slot`` that it gives back exactly once, however it ends; a retired pool
closes with its last call. A pool lives and dies with its event loop: it
closes itself when the loop shuts down (``asyncio.run`` and every runner
close a loop's async generators first, the one notice a loop gives), so a
client can be used again under the next ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any

from llmpipe._dependencies import close_connector_now
from llmpipe._fork import generation
from llmpipe.transport._deadlines import Deadlines
from llmpipe.transport._fresh import Turn

if TYPE_CHECKING:
    import aiohttp
    import yarl

__all__ = ["Gate", "Pool", "Slot"]


class Gate:
    """Admits ``limit`` calls at once; the rest wait in turn (first come, first served).

    A slot given back goes straight to the first live waiter, so a caller
    arriving meanwhile cannot take it first. asyncio.Semaphore does the same
    with about eight more Python calls per admission, on every call.
    ``AiohttpTransport.send`` writes ``take_nowait`` and ``give`` out for a
    plain call (a Python call fewer each): keep the three equal.
    """

    __slots__ = ("free", "waiters")

    def __init__(self, limit: int) -> None:
        self.free = limit
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def take_nowait(self) -> bool:
        if self.free and not self.waiters:
            self.free -= 1
            return True
        return False

    async def take(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait for a slot (cancel the caller to stop waiting)."""
        waiter: asyncio.Future[None] = loop.create_future()
        self.waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.give()  # handed a slot just as the wait was cancelled: pass it on
            raise

    def give(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():  # a cancelled wait is skipped
                waiter.set_result(None)
                return
        self.free += 1


class Pool:
    """One ClientSession, the loop and process it belongs to, and the calls using it.

    ``gate`` admits ``limit`` calls at once; the others wait their turn
    (bounded by ``pool_timeout``) here rather than inside aiohttp, where the
    wait could not be told apart from connecting. ``deadlines`` bounds each
    attempt in flight with the pool's one timer.
    """

    __slots__ = (
        "_watcher",
        "closed",
        "deadlines",
        "gate",
        "generation",
        "in_flight",
        "loop",
        "proxy",
        "retiring",
        "session",
        "turns",
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        loop: asyncio.AbstractEventLoop,
        limit: int,
        proxy: yarl.URL | None,
        turns: dict[asyncio.Task[Any], Turn] | None = None,
    ) -> None:
        self.session = session
        self.turns: dict[asyncio.Task[Any], Turn] = {} if turns is None else turns
        """Queued calls' waits, which the connector runs (shared with it)."""
        self.loop = loop
        self.generation = generation()
        self.gate = Gate(limit)
        self.deadlines = Deadlines(loop)
        self.proxy = proxy
        self.in_flight = 0
        self.retiring = False
        self.closed = False
        self._watcher: AsyncGenerator[None, None] | None = None

    def here(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether this pool may be used on ``loop`` in this process."""
        return self.loop is loop and self.generation == generation()

    @property
    def inherited(self) -> bool:
        """Made by the parent of this forked process: never to be touched here."""
        return self.generation != generation()

    async def close_with_loop(self) -> None:
        """Have the loop's shutdown close this pool (see the module docstring)."""
        watcher = _closer(self)
        await watcher.asend(None)
        self._watcher = watcher

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.deadlines.close()
        watcher, self._watcher = self._watcher, None
        try:
            await self.session.close()
        finally:
            if watcher is not None:
                await watcher.aclose()

    def drop(self) -> None:
        """Let go of a pool whose loop is gone (or idle), without awaiting.

        Its sockets are closed if that loop can still run the callbacks;
        normally the loop's shutdown has closed the pool already.
        """
        if self.closed:
            return
        self.closed = True
        self._watcher = None
        connector = self.session.connector
        self.session.detach()
        if connector is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing can run
                close_connector_now(connector)


async def _closer(pool: Pool) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        if not pool.closed:
            pool.closed = True
            pool.deadlines.close()
            await pool.session.close()


class Slot:
    """One call's hold on a pool; given back exactly once, however the call ends.

    ``leave(pool)`` is the owner's bookkeeping, called on that one release.
    """

    __slots__ = ("_leave", "pool", "released")

    def __init__(self, pool: Pool, leave: Callable[[Pool], None]) -> None:
        self._leave = leave
        self.pool = pool
        self.released = False
        pool.in_flight += 1

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.pool.gate.give()
            self._leave(self.pool)
