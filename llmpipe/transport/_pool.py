"""A pool (one aiohttp ClientSession) and a call's hold on it.

Recycling a pool must not cut the calls still using it, so each call holds a
``Slot`` that it gives back exactly once, however it ends; a retired pool
closes with its last call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp

__all__ = ["Pool", "Slot"]


class Pool:
    """One ClientSession and the calls still using it."""

    __slots__ = ("in_flight", "retiring", "session")

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.in_flight = 0
        self.retiring = False


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
            self._leave(self.pool)
