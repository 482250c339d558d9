"""AiohttpTransport: HTTP over one pooled aiohttp ClientSession.

aiohttp is imported on first use so ``import llmpipe`` stays cheap, and the
session is created inside the loop that first sends. This module is the only
place that knows aiohttp's exceptions; each is mapped to the llmpipe tree.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from llmpipe import _json
from llmpipe._version import __version__
from llmpipe.config import LLMConfig
from llmpipe.errors import ClientClosedError, LLMConnectionError, LLMError, LLMTimeoutError
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.transport.base import Transport

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AiohttpTransport"]


class _Pool:
    """One ClientSession and the calls still using it."""

    __slots__ = ("in_flight", "retiring", "session")

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.in_flight = 0
        self.retiring = False


class AiohttpTransport(Transport):
    """The default transport: keep-alive connections pooled by a TCPConnector."""

    def __init__(self, config: LLMConfig) -> None:
        self._config = config
        self._root = config.api_root + "/"
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"llmpipe/{__version__}",
            **config.extra_headers,
        }
        if config.api_key is not None:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._headers = headers
        self._pool: _Pool | None = None
        self._retiring: set[_Pool] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def __repr__(self) -> str:
        return f"AiohttpTransport(root={self._root!r}, closed={self._closed})"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def holds_resources(self) -> bool:
        return self._pool is not None or bool(self._retiring)

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            import aiohttp

            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return timeout

    def _open(self) -> _Pool:
        import aiohttp

        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop and not self._loop.is_closed():
            raise LLMError(
                "this AsyncLLM is bound to the event loop it first ran in; "
                "create one AsyncLLM per loop, or use the sync LLM"
            )
        self._loop = loop
        connector = aiohttp.TCPConnector(limit=self._config.connection_limit)
        session = aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            timeout=self._timeout(self._config.timeout),
        )
        self._pool = _Pool(session)
        return self._pool

    async def send(self, request: LLMRequest) -> LLMResponse:
        if self._closed:
            raise ClientClosedError("the client is closed; create a new client to send requests")
        pool = self._pool or self._open()
        seconds = self._config.timeout if request.timeout is None else request.timeout
        body = None if request.body is None else _json.dumps(request.body)
        pool.in_flight += 1
        started = time.perf_counter()
        try:
            async with pool.session.request(
                request.method,
                self._root + request.endpoint,
                data=body,
                headers=request.headers or None,
                timeout=self._timeout(seconds),
            ) as reply:
                content = await reply.read()
                return LLMResponse(
                    reply.status, reply.headers, content, request, time.perf_counter() - started
                )
        except LLMError:
            raise
        except Exception as exc:
            mapped = self._map_error(exc, request, seconds)
            if mapped is None:
                raise
            raise mapped from exc
        finally:
            pool.in_flight -= 1
            if pool.retiring and pool.in_flight == 0:
                self._retiring.discard(pool)
                await pool.session.close()

    def _map_error(
        self, exc: BaseException, request: LLMRequest, seconds: float
    ) -> LLMError | None:
        import aiohttp

        where = f"{request.method} {self._root}{request.endpoint}"
        if self._closed:
            return ClientClosedError(f"{where}: the client was closed while the call was in flight")
        if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
            return LLMTimeoutError(
                f"{where}: no complete reply within {seconds:g} s; "
                "raise the timeout or check that the server is not overloaded"
            )
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = exc.os_error.strerror or str(exc.os_error)
            return LLMConnectionError(
                f"{where}: cannot connect ({reason}); check that the server is running "
                "and that base_url is right"
            )
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return LLMConnectionError(f"{where}: the server closed the connection before replying")
        if isinstance(exc, aiohttp.ClientPayloadError):
            return LLMConnectionError(f"{where}: the reply body was cut off ({exc})")
        if isinstance(exc, (aiohttp.ClientError, OSError)):
            return LLMConnectionError(f"{where}: {type(exc).__name__}: {exc}")
        return None

    async def recycle(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if pool.in_flight:
            pool.retiring = True
            self._retiring.add(pool)
        else:
            await pool.session.close()

    async def close(self) -> None:
        self._closed = True
        pools = [p for p in (self._pool, *self._retiring) if p is not None]
        self._pool = None
        self._retiring.clear()
        for pool in pools:
            await pool.session.close()

    def abandon(self) -> None:
        self._closed = True
        pools = [p for p in (self._pool, *self._retiring) if p is not None]
        self._pool = None
        self._retiring.clear()
        for pool in pools:
            connector: Any = pool.session.connector
            pool.session.detach()
            if connector is not None and not connector.closed:
                connector._close()  # the sync half of close(): needs no running loop
