"""Counting the client connections open to the server.

Client tests prove that leaving a stream early gives its connection up, and
that closing a client closes its pool, by watching this count fall. aiohttp's
web server tells its manager (`web.Server`) of every connection made and
lost, at the moment the transport opens and closes; `CountingServer` counts
there. (`web.Server.connections` is no substitute: it forgets a connection
only once its handler task has finished, a moment later.) The count is read
from the tests' threads while the server's loop changes it, hence the lock.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

__all__ = ["ConnectionCount", "CountingServer", "Handler"]

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class ConnectionCount:
    """A thread-safe count of open connections."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = 0

    @property
    def value(self) -> int:
        with self._lock:
            return self._open

    def opened(self) -> None:
        with self._lock:
            self._open += 1

    def closed(self) -> None:
        with self._lock:
            self._open -= 1


class CountingServer(web.Server):
    """aiohttp's low-level server, keeping `count` up to date."""

    def __init__(self, handler: Handler, count: ConnectionCount, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._count = count

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        self._count.opened()

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        super().connection_lost(handler, exc)
        self._count.closed()
