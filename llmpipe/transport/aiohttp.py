"""AiohttpTransport: HTTP over a pooled aiohttp ClientSession.

aiohttp is imported on first use so ``import llmpipe`` stays cheap, and a
pool is opened inside the loop that sends. Which pool serves which loop, in
which process, is ``_lifecycle``'s business; how a pool is made, ``_session``'s;
exceptions are mapped to llmpipe's tree in ``_errors``; a request that never
reached the server is sent again by the rule in ``_fresh``; each attempt's
timeout is kept by the pool's one timer (``_deadlines``).

aiohttp is called the cheap way for what it does per request: a URL parsed
once per endpoint, no per-call headers unless the call has its own, no
per-request timeout (``tests/benchmarks/aiohttp_variants.py`` measures each).
"""

from __future__ import annotations

import asyncio
import time
from asyncio import CancelledError, get_running_loop
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from multidict import CIMultiDict

from llmpipe import _json, logs
from llmpipe._dependencies import task_of
from llmpipe.config import LLMConfig
from llmpipe.errors import ClientClosedError, LLMError, LLMTimeoutError
from llmpipe.request import Headers, LLMRequest, LLMResponse, new_response
from llmpipe.transport._body import ReplyBody, is_event_stream, too_large
from llmpipe.transport._errors import Limits, map_error
from llmpipe.transport._fresh import IDEMPOTENT_METHODS, never_reached
from llmpipe.transport._identity import fingerprint, origin_of, userinfo_of
from llmpipe.transport._lifecycle import Pools
from llmpipe.transport._mask import KeyMask
from llmpipe.transport._pool import Pool, Slot
from llmpipe.transport._session import PoolRecipe, proxy_shown
from llmpipe.transport.base import Transport

if TYPE_CHECKING:
    import aiohttp
    import yarl

__all__ = ["AiohttpTransport"]

_STREAM_HEADERS = {"Accept": "text/event-stream"}
_URLS_KEPT = 64  # endpoints whose parsed URL is kept (a client calls a handful)


class AiohttpTransport(Transport):
    """The default transport: keep-alive connections pooled by a connector."""

    def __init__(self, config: LLMConfig) -> None:
        self._config = config
        self._root = config.api_root + "/"
        self._recipe = PoolRecipe(config)
        # A server that echoes the key must not put it in our errors, logs or caches.
        self._key = config.api_key
        self._server_root = config.api_root.removesuffix("/v1")  # for endpoints like "/tokenize"
        self._mask = None if config.api_key is None else KeyMask(config.api_key)
        if not config.verify_tls:
            logs.warning(
                "TLS certificate verification is OFF for {root}: anyone on the path can "
                "read and alter traffic, the API key included",
                root=self._root,
            )
        self._pools = Pools(self._recipe.open)
        self._closed = False
        self._urls: dict[str, yarl.URL] = {}
        self.resent = 0
        """Requests sent again because a pooled connection had been closed (not retries)."""

    def __repr__(self) -> str:
        return f"AiohttpTransport(root={self._root!r}, closed={self._closed})"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def origin(self) -> str:
        """``scheme://host:port/path``; over a Unix socket, ``http+unix://<path, quoted>/path``
        (two local servers on two sockets are two origins)."""
        socket = self._config.unix_socket
        if socket is None:
            return origin_of(self._root)
        return f"http+unix://{quote(socket, safe='')}{urlsplit(self._root).path.rstrip('/')}"

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
        return self._pools.in_flight

    @property
    def holds_resources(self) -> bool:
        return self._pools.holds_resources

    def _url(self, endpoint: str) -> str:
        """``chat/completions`` is under the API root (/v1); ``/tokenize`` under the server's."""
        return self._server_root + endpoint if endpoint[:1] == "/" else self._root + endpoint

    def _yarl_url(self, endpoint: str) -> yarl.URL:
        """The endpoint's URL, parsed once: a str would be parsed again on every request."""
        url = self._urls.get(endpoint)
        if url is None:
            import yarl

            url = yarl.URL(self._url(endpoint))
            if len(self._urls) < _URLS_KEPT:
                self._urls[endpoint] = url
        return url

    # -- sending -------------------------------------------------------------------------

    async def send(self, request: LLMRequest) -> LLMResponse:
        if self._closed:
            raise ClientClosedError("the client is closed; create a new client to send requests")
        # The attempt's own task (a hedge's attempt runs in a task of its own), found
        # from the loop: current_task() on 3.11 would ask for the running loop again.
        loop = get_running_loop()
        task = task_of(loop)
        assert task is not None  # a call is sent inside a task
        pool = self._pools.current
        if pool is None or pool.loop is not loop or pool.closed:  # a fork resets it
            pool = await self._pools.open_here(loop)
        body = None if request.body is None else _json.dumps(request.body)
        if request.stream:  # the wait for the headers counts against the first event's time
            seconds = (
                request.options.first_event_timeout
                or request.timeout
                or self._config.first_event_timeout
            )
        else:
            seconds = self._config.timeout if request.timeout is None else request.timeout
        if request.options.deadline_at is not None:
            seconds = self._attempt_seconds(request, seconds)
        queued: _Queued | None = None
        gate = pool.gate
        if gate.free and not gate.waiters:  # Gate.take_nowait(), without its call
            gate.free -= 1
        elif request.stream:
            seconds = await self._wait_for_turn(pool, request, seconds, task)
        else:  # waits in the connector, after aiohttp has built the request (see _Queued)
            queued = pool.turns[task] = _Queued(self, pool, request, seconds, task)
        if request.stream:  # a stream gives its slot back when it ends
            slot = Slot(pool, self._pools.leave)
            try:
                return await self._send_stream(slot, request, body, seconds, task)
            except BaseException:
                slot.release()
                raise
        # A plain call, here rather than in a coroutine of its own: one fewer per call.
        # It holds its place in the pool without a Slot: the last ``finally`` gives it back.
        cancelling = task.cancelling()
        deadlines = pool.deadlines
        if queued is None:
            pool.in_flight += 1
            started = time.perf_counter()
            deadlines.enter(task, seconds)
        try:
            try:
                headers = request.headers or None
                url = self._urls.get(request.endpoint)  # _yarl_url's, without its call
                if url is None:
                    url = self._yarl_url(request.endpoint)
                try:  # the first try here, not in a coroutine of its own: one fewer per call
                    reply = await pool.session.request(
                        request.method,
                        url,
                        data=body,
                        headers=headers,
                        proxy=pool.proxy,
                    )
                except Exception as exc:
                    reply = await self._resend(pool, request, body, headers, exc)
                async with reply:
                    content = self._read_start(reply, request)
                    if not reply.content.at_eof() or len(content) > self._config.max_response_bytes:
                        content = await self._read_rest(reply, request, content)
            finally:
                if queued is None:
                    expired = deadlines.leave(task, cancelling)
                else:
                    expired = queued.leave(cancelling)
                    started, seconds = queued.started, queued.seconds
            return new_response(
                reply.status,
                self._masked_headers(reply.headers),
                content if self._mask is None else self._mask.body(content),
                request,
                time.perf_counter() - started,
            )
        except CancelledError:
            if not expired:
                raise
            expiry = TimeoutError()
            raise self._mapped(expiry, request, seconds, pool) from expiry
        except LLMError:
            raise
        except Exception as exc:
            raise self._mapped(exc, request, seconds, pool) from _cause(exc)
        finally:
            if queued is None or queued.admitted:
                # gate.give() and self._pools.leave(pool), without their calls when
                # no call waits and the pool is not retiring (what they then do)
                if gate.waiters:
                    gate.give()
                else:
                    gate.free += 1
                if pool.retiring:
                    self._pools.leave(pool)
                else:
                    pool.in_flight -= 1

    def _attempt_seconds(self, request: LLMRequest, seconds: float) -> float:
        """The attempt's timeout, shortened to what is left of the call's deadline."""
        deadline = request.options.deadline_at
        if deadline is None:
            return seconds
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise LLMTimeoutError(
                f"{self._where(request)}: the call's deadline passed before this attempt "
                "could start"
            )
        return min(seconds, left)

    async def _wait_for_turn(
        self, pool: Pool, request: LLMRequest, seconds: float, task: asyncio.Task[Any]
    ) -> float:
        """Takes a place in ``pool`` once one is free; what is left of ``seconds`` then.

        The wait is bounded by the pool's one timer (``_deadlines``), as an attempt
        is: ``asyncio.timeout`` would build a timeout object and a loop timer per
        waiting call (most calls wait once concurrency exceeds the pool), and leave
        each cancelled timer in the loop's heap until the heap is next cleaned.
        """
        limit = self._config.pool_timeout
        wait = seconds if limit is None else min(limit, seconds)
        started = pool.loop.time()
        cancelling = task.cancelling()
        deadlines = pool.deadlines
        deadlines.enter(task, wait)
        try:
            try:
                await pool.gate.take(pool.loop)
            finally:
                expired = deadlines.leave(task, cancelling)
        except CancelledError:
            if not expired:
                raise
            which = "pool_timeout" if limit is not None and limit <= seconds else "timeout"
            raise LLMTimeoutError(
                f"{self._where(request)}: no free connection within {wait:g} s ({which}): "
                f"all connection_limit={self._config.connection_limit} are in use; raise "
                "connection_limit or pool_timeout, or close streams you no longer read"
            ) from None
        return seconds - (pool.loop.time() - started)

    def _replayable(self, request: LLMRequest) -> bool:
        header = self._config.idempotency_header
        return request.method in IDEMPOTENT_METHODS or (
            header is not None and header in request.headers
        )

    async def _resend(
        self,
        pool: Pool,
        request: LLMRequest,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        failure: Exception,
    ) -> aiohttp.ClientResponse:
        """After the first try failed with ``failure``: a request that never reached the
        server goes again on a fresh connection; any other failure is raised."""
        replayable = self._replayable(request)
        for _ in range(self._config.connection_limit):  # each pooled connection fails once
            if not never_reached(failure, replayable):
                raise failure
            self.resent += 1
            logs.debug(
                "{where}: the server had closed a pooled connection ({error}); "
                "sending again on another",
                where=self._where(request),
                error=type(failure).__name__,
            )
            try:
                return await pool.session.request(
                    request.method,
                    self._yarl_url(request.endpoint),
                    data=body,
                    headers=headers,
                    proxy=pool.proxy,
                )
            except Exception as exc:
                failure = exc
        raise failure

    async def _send_stream(
        self,
        slot: Slot,
        request: LLMRequest,
        body: bytes | None,
        first: float,
        task: asyncio.Task[Any],
    ) -> LLMResponse:
        """Send (from ``task``), and hand over the body as bytes once the headers are in.

        The event reader above applies the first-event and idle timeouts to the body.
        """
        loop = slot.pool.loop
        started = loop.time()
        headers = {**_STREAM_HEADERS, **request.headers} if request.headers else _STREAM_HEADERS
        cancelling = task.cancelling()
        deadlines = slot.pool.deadlines
        deadlines.enter(task, first)
        try:
            try:
                try:
                    reply = await slot.pool.session.request(
                        request.method,
                        self._yarl_url(request.endpoint),
                        data=body,
                        headers=headers,
                        proxy=slot.pool.proxy,
                    )
                except Exception as exc:
                    reply = await self._resend(slot.pool, request, body, headers, exc)
                if reply.status >= 300 or not is_event_stream(reply.content_type):
                    async with reply:  # an error, or a server that ignored stream=True
                        content = self._read_start(reply, request)
                        if (
                            not reply.content.at_eof()
                            or len(content) > self._config.max_response_bytes
                        ):
                            content = await self._read_rest(reply, request, content)
                    slot.release()
                    return LLMResponse(
                        reply.status,
                        self._masked_headers(reply.headers),
                        content if self._mask is None else self._mask.body(content),
                        request,
                        loop.time() - started,
                    )
            finally:
                expired = deadlines.leave(task, cancelling)
        except CancelledError:
            if not expired:
                raise
            expiry = TimeoutError()
            raise self._mapped(expiry, request, first, slot.pool, stream=True) from expiry
        except LLMError:
            raise
        except Exception as exc:
            raise self._mapped(exc, request, first, slot.pool, stream=True) from _cause(exc)
        reply_body = ReplyBody(
            reply,
            slot,
            request,
            limit=self._config.max_response_bytes,
            mask=self._mask,
            map_error=self._mapped_while_reading,
            open_bodies=self._pools.bodies,
        )
        return LLMResponse(
            reply.status,
            self._masked_headers(reply.headers),
            b"",
            request,
            loop.time() - started,
            byte_stream=reply_body,
        )

    def _read_start(self, reply: aiohttp.ClientResponse, request: LLMRequest) -> bytes:
        """What of the body is here already: a small reply is usually whole (then
        at EOF). A body declared beyond ``max_response_bytes`` is refused."""
        limit = self._config.max_response_bytes
        declared = reply.content_length
        if declared is not None and declared > limit:
            reply.close()
            raise too_large(request, limit)
        return reply.content.read_nowait()

    async def _read_rest(
        self, reply: aiohttp.ClientResponse, request: LLMRequest, first: bytes
    ) -> bytes:
        """The whole body after ``first``, refusing one beyond ``max_response_bytes``
        (after decompression)."""
        limit = self._config.max_response_bytes
        content = reply.content
        parts = [first]
        total = len(first)
        while total <= limit and (chunk := await content.readany()):
            total += len(chunk)
            parts.append(chunk)
        if total > limit:
            reply.close()  # the rest is never read: this connection cannot be reused
            raise too_large(request, limit)
        return b"".join(parts)

    def _masked_headers(self, headers: Headers) -> Headers:
        """The reply's headers, with an echoed API key masked (a proxy may echo it).

        Each value is searched in turn: joining them first costs ~1.3k instructions
        more per reply (a list of the values, then the joined text)."""
        key = self._key
        if key is not None:
            for value in headers.values():
                if key in value:
                    return CIMultiDict(
                        (name, value.replace(key, "***")) for name, value in headers.items()
                    )
        return headers

    # -- errors --------------------------------------------------------------------------

    def _where(self, request: LLMRequest) -> str:
        return f"{request.method} {self._url(request.endpoint)}"

    def _mapped_while_reading(self, exc: BaseException, request: LLMRequest) -> BaseException:
        return self._mapped(exc, request, 0)

    def _mapped(
        self,
        exc: BaseException,
        request: LLMRequest,
        seconds: float,
        pool: Pool | None = None,
        *,
        stream: bool = False,
    ) -> BaseException:
        if self._closed:
            return ClientClosedError(
                f"{self._where(request)}: the client was closed while the call was in flight"
            )
        limits = Limits(
            connect_timeout=self._config.connect_timeout,
            max_header_bytes=self._config.max_header_bytes,
            proxy=None if pool is None else proxy_shown(pool),
        )
        mapped = map_error(exc, self._where(request), seconds, limits, stream=stream)
        return exc if mapped is None else mapped

    # -- lifecycle ---------------------------------------------------------------------

    async def recycle(self) -> None:
        await self._pools.recycle(asyncio.get_running_loop())

    async def close(self) -> None:
        self._closed = True
        await self._pools.close(asyncio.get_running_loop())

    def abandon(self) -> None:
        self._closed = True
        self._pools.abandon()


class _Queued:
    """A plain call sent while the pool was full: its wait for a place, run in the
    connector (``_fresh``) once aiohttp has built the request, as aiohttp's own
    pool waits.

    Waiting before the request is built (as a stream does) is equivalent, but at
    high concurrency it ran the cyclic GC three times as often as raw aiohttp
    (young collections per 1000 calls at c=256 on 100 connections: 37-39 vs 10-11;
    waiting in the connector: 13 vs 13).
    CPython counts allocations minus frees, never below zero, and collects at
    700: a call that ends frees its objects while the next call in its task
    waits, and the call handed its place builds aiohttp's request only in the
    next loop turn, after those frees, so its allocations were never offset.
    Built here, the request is allocated before the wait, as in raw aiohttp.
    """

    __slots__ = ("admitted", "pool", "request", "seconds", "started", "task", "transport")

    def __init__(
        self,
        transport: AiohttpTransport,
        pool: Pool,
        request: LLMRequest,
        seconds: float,
        task: asyncio.Task[Any],
    ) -> None:
        self.transport = transport
        self.pool = pool
        self.request = request
        self.seconds = seconds
        """The attempt's timeout: once admitted, what is left of it after the wait."""
        self.task = task
        self.admitted = False
        self.started = 0.0

    async def __call__(self) -> None:
        """Wait for a place (``pool_timeout``'s error if none comes), then start the
        attempt's clock and deadline, as the call does when the pool has room."""
        pool = self.pool
        self.seconds = await self.transport._wait_for_turn(
            pool, self.request, self.seconds, self.task
        )
        self.admitted = True
        pool.in_flight += 1
        self.started = time.perf_counter()
        pool.deadlines.enter(self.task, self.seconds)

    def leave(self, cancelling: int) -> bool:
        """The attempt is over: ``Deadlines.leave``'s answer (False if never admitted)."""
        self.pool.turns.pop(self.task, None)  # aiohttp failed before connecting
        return self.admitted and self.pool.deadlines.leave(self.task, cancelling)


def _cause(exc: BaseException) -> BaseException | None:
    """What a mapped error is chained to. Not aiohttp's ClientResponseError family:
    its repr holds the request's headers (the API key, a proxy's credentials) and
    its parse errors quote the reply's bytes, which may echo the key."""
    import aiohttp

    return None if isinstance(exc, aiohttp.ClientResponseError) else exc
