"""AiohttpTransport: HTTP over one pooled aiohttp ClientSession.

aiohttp is imported on first use so ``import llmpipe`` stays cheap, and the
session is created inside the loop that first sends. This module is the only
place that knows aiohttp's exceptions; each is mapped to the llmpipe tree.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from llmpipe import _json, logs
from llmpipe._dependencies import close_connector_now
from llmpipe._version import __version__
from llmpipe.config import LLMConfig
from llmpipe.errors import (
    ClientClosedError,
    LLMConnectionError,
    LLMError,
    LLMTimeoutError,
)
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.transport._body import ReplyBody, is_event_stream, too_large
from llmpipe.transport._identity import fingerprint, origin_of, userinfo_of
from llmpipe.transport._mask import KeyMask
from llmpipe.transport._pool import Pool, Slot
from llmpipe.transport.base import Transport

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AiohttpTransport"]


class AiohttpTransport(Transport):
    """The default transport: keep-alive connections pooled by a TCPConnector."""

    def __init__(self, config: LLMConfig) -> None:
        self._config = config
        self._root = config.api_root + "/"
        self._server_root = config.api_root.removesuffix("/v1")  # for endpoints like "/tokenize"
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"llmpipe/{__version__}",
            **config.extra_headers,
        }
        if config.api_key is not None:
            headers["Authorization"] = f"Bearer {config.api_key}"
        # A server that echoes the key in an error must not put it in our errors or logs.
        self._mask = None if config.api_key is None else KeyMask(config.api_key)
        self._headers = headers
        if not config.verify_tls:
            logs.warning(
                "TLS certificate verification is OFF for {root}: anyone on the path can "
                "read and alter traffic, the API key included",
                root=self._root,
            )
        self._pool: Pool | None = None
        self._retiring: set[Pool] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._bodies: set[ReplyBody] = set()  # streamed bodies still being read
        self._closing: set[asyncio.Task[None]] = set()  # retired pools being closed

    def __repr__(self) -> str:
        return f"AiohttpTransport(root={self._root!r}, closed={self._closed})"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def origin(self) -> str:
        return origin_of(self._root)

    def credential_fingerprint(self, key: bytes) -> str | None:
        """Covers the API key, a ``user:password`` in ``base_url`` and every
        ``extra_headers`` of the config: any of them may say who asks (an
        organization header, a gateway's key sent as a header)."""
        config = self._config
        return fingerprint(
            key,
            {
                "api_key": config.api_key,
                "userinfo": userinfo_of(config.base_url),
                "headers": {name.lower(): value for name, value in config.extra_headers.items()},
            },
        )

    @property
    def in_flight(self) -> int:
        """Calls (and unfinished streams) holding a connection right now."""
        return sum(p.in_flight for p in (self._pool, *self._retiring) if p is not None)

    @property
    def holds_resources(self) -> bool:
        return self._pool is not None or bool(self._retiring)

    def _url(self, endpoint: str) -> str:
        """``chat/completions`` is under the API root (/v1); ``/tokenize`` under the server's."""
        return self._server_root + endpoint if endpoint[:1] == "/" else self._root + endpoint

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            import aiohttp

            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return timeout

    def _open(self) -> Pool:
        import aiohttp

        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop and not self._loop.is_closed():
            raise LLMError(
                "this AsyncLLM is bound to the event loop it first ran in; "
                "create one AsyncLLM per loop, or use the sync LLM"
            )
        self._loop = loop
        connector = aiohttp.TCPConnector(
            limit=self._config.connection_limit, ssl=self._config.verify_tls
        )
        session = aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            timeout=self._timeout(self._config.timeout),
        )
        self._pool = Pool(session)
        return self._pool

    async def send(self, request: LLMRequest) -> LLMResponse:
        if self._closed:
            raise ClientClosedError("the client is closed; create a new client to send requests")
        pool = self._pool or self._open()
        body = None if request.body is None else _json.dumps(request.body)
        slot = Slot(pool, self._leave)
        try:
            if request.stream:  # a stream gives its slot back when it ends
                return await self._send_stream(slot, request, body)
            return await self._send_plain(pool, request, body)
        except BaseException:
            slot.release()
            raise
        finally:
            if not request.stream:
                slot.release()

    def _attempt_seconds(self, request: LLMRequest, seconds: float) -> float:
        """The attempt's timeout, shortened to what is left of the call's deadline."""
        deadline = request.options.deadline_at
        if deadline is None:
            return seconds
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise LLMTimeoutError(
                f"{request.method} {self._url(request.endpoint)}: the call's deadline passed "
                "before this attempt could start"
            )
        return min(seconds, left)

    async def _send_plain(self, pool: Pool, request: LLMRequest, body: bytes | None) -> LLMResponse:
        seconds = self._config.timeout if request.timeout is None else request.timeout
        seconds = self._attempt_seconds(request, seconds)
        started = time.perf_counter()
        try:
            async with pool.session.request(
                request.method,
                self._url(request.endpoint),
                data=body,
                headers=request.headers or None,
                timeout=self._timeout(seconds),
            ) as reply:
                content = await self._read_capped(reply, request)
                if reply.status >= 300 and self._mask is not None:
                    content = self._mask.body(content)
                return LLMResponse(
                    reply.status, reply.headers, content, request, time.perf_counter() - started
                )
        except LLMError:
            raise
        except Exception as exc:
            raise self._mapped(exc, request, seconds) from exc

    async def _send_stream(
        self, slot: Slot, request: LLMRequest, body: bytes | None
    ) -> LLMResponse:
        """Send, and hand over the body as bytes once the headers are in.

        The wait for the headers counts against the first-event timeout; the
        event reader above applies it (and the idle timeout) to the body.
        """
        first = (
            request.options.first_event_timeout
            or request.timeout
            or self._config.first_event_timeout
        )
        first = self._attempt_seconds(request, first)
        loop = asyncio.get_running_loop()
        started = loop.time()
        headers = {"Accept": "text/event-stream", **request.headers}
        try:
            async with asyncio.timeout(first):
                reply = await slot.pool.session.request(
                    request.method,
                    self._url(request.endpoint),
                    data=body,
                    headers=headers,
                    timeout=self._no_read_timeout(),
                )
                if reply.status >= 300 or not is_event_stream(reply.content_type):
                    async with reply:  # an error, or a server that ignored stream=True
                        content = await self._read_capped(reply, request)
                    slot.release()
                    if reply.status >= 300 and self._mask is not None:
                        content = self._mask.body(content)
                    return LLMResponse(
                        reply.status, reply.headers, content, request, loop.time() - started
                    )
        except LLMError:
            raise
        except Exception as exc:
            raise self._mapped(exc, request, first) from exc
        reply_body = ReplyBody(
            reply,
            slot,
            request,
            limit=self._config.max_response_bytes,
            mask=self._mask,
            map_error=self._mapped_while_reading,
            open_bodies=self._bodies,
        )
        return LLMResponse(
            reply.status, reply.headers, b"", request, loop.time() - started, byte_stream=reply_body
        )

    async def _read_capped(self, reply: aiohttp.ClientResponse, request: LLMRequest) -> bytes:
        """The whole body, refusing one beyond ``max_response_bytes`` (after decompression)."""
        limit = self._config.max_response_bytes
        declared = reply.content_length
        if declared is not None and declared > limit:
            reply.close()
            raise too_large(request, limit)
        content = reply.content
        first = content.read_nowait()  # a small reply is usually here whole already
        if content.at_eof() and len(first) <= limit:
            return first
        parts = [first]
        total = len(first)
        while total <= limit and (chunk := await content.readany()):
            total += len(chunk)
            parts.append(chunk)
        if total > limit:
            reply.close()  # the rest is never read: this connection cannot be reused
            raise too_large(request, limit)
        return b"".join(parts)

    def _no_read_timeout(self) -> aiohttp.ClientTimeout:
        """Streams time themselves (first event, idle); aiohttp must not cut them."""
        import aiohttp

        return aiohttp.ClientTimeout(total=None)

    def _leave(self, pool: Pool) -> None:
        """A call is done with ``pool``; a retired pool closes with its last call."""
        pool.in_flight -= 1
        if pool.retiring and pool.in_flight == 0:
            self._retiring.discard(pool)
            task = asyncio.get_running_loop().create_task(pool.session.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def _mapped_while_reading(self, exc: BaseException, request: LLMRequest) -> BaseException:
        return self._mapped(exc, request, 0)

    def _mapped(self, exc: BaseException, request: LLMRequest, seconds: float) -> BaseException:
        mapped = self._map_error(exc, request, seconds)
        return exc if mapped is None else mapped

    def _map_error(
        self, exc: BaseException, request: LLMRequest, seconds: float
    ) -> LLMError | None:
        import aiohttp

        where = f"{request.method} {self._url(request.endpoint)}"
        if self._closed:
            return ClientClosedError(f"{where}: the client was closed while the call was in flight")
        if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
            return LLMTimeoutError(
                f"{where}: no complete reply within {seconds:.3g} s; "
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
        for body in list(self._bodies):
            body.abort()  # wakes a reader waiting on it; it then raises ClientClosedError
        pools = [p for p in (self._pool, *self._retiring) if p is not None]
        self._pool = None
        self._retiring.clear()
        for pool in pools:
            await pool.session.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def abandon(self) -> None:
        self._closed = True
        pools = [p for p in (self._pool, *self._retiring) if p is not None]
        self._pool = None
        self._retiring.clear()
        for pool in pools:
            connector = pool.session.connector
            pool.session.detach()
            if connector is not None:
                close_connector_now(connector)
