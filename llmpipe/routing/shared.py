"""Breakers kept in step across processes: the protocol a shared store follows.

Each process keeps its own breakers, which decide on the hot path with no
I/O. A shared store adds three things: a breaker that opens here is opened
everywhere (``publish_open``; so other processes stop sending before they
fail themselves), one that closes here is closed everywhere
(``publish_closed``), and after a cooldown only one process, not one per
process, sends the half-open probe (``claim_probe``). ``refresh`` reads the
others' news, at most once per interval, before a deployment is picked.
``RedisBreakers`` keeps them in Redis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from llmpipe.routing.replica import Replica

__all__ = ["SharedBreakers"]


class SharedBreakers(Protocol):
    def attach(self, names: Sequence[str]) -> None:
        """The deployment names of the router using this store (once, at construction)."""

    async def refresh(self, replicas: Sequence[Replica], now: float) -> None:
        """Bring these replicas' breakers in line with the store (rate-limited)."""

    async def claim_probe(self, replica: Replica, now: float) -> bool:
        """Whether this process sends the half-open probe (no other one does)."""

    def publish_open(self, replica: Replica, seconds: float) -> None:
        """Tell the others: ``replica`` is out for ``seconds`` (without waiting)."""

    def publish_closed(self, replica: Replica) -> None:
        """Tell the others: ``replica`` answers again (without waiting)."""

    async def close(self) -> None: ...
