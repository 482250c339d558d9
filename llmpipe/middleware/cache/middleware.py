"""CacheMiddleware: answer a repeated request from a cache, without the network.

Where it sits decides what the client's stats mean. Recommended, just inside
counting::

    stack = default_middlewares(config).insert_after(CountingMiddleware, CacheMiddleware())

    LoggingMiddleware         logs every call, hits included (plus a "cache hit" line)
    CountingMiddleware        a hit is a request; Stats.cache_hits / cache_misses count them
    CacheMiddleware           answers hits; stores what the layers inside return
    RetryMiddleware           a call is stored once, after it finally succeeds
    ClassifyErrorsMiddleware  errors are raised, so they can never be stored
    SessionMiddleware

Placed before ``CountingMiddleware`` instead, the stats count only calls that
went to the server (and their tokens), ``cache_misses`` included and
``cache_hits`` always 0. Inside counting, a hit's reply adds its ``usage`` to
the token totals: tokens delivered to the caller, not tokens spent.

Single-flight: identical requests (same key) that arrive while one is in
flight wait for it and are answered from its reply, so ten concurrent calls
make one server call. It holds per middleware instance, in one process. If
the leader fails (or its reply may not be cached), each waiter makes its own
call. Streams do not wait for each other: a caller may hold a stream without
reading it, and a waiter must not hang on that.

Isolation: by default (``scope="credential"``) a reply is only ever served
to a client of the same server (origin) with the same credentials and the
same identifying per-call headers (see ``llmpipe.middleware.cache.scope``);
``scope="server"`` shares across credentials, ``scope="body"`` across
servers too. The middleware learns its client's identity in ``bind``, so one
``CacheMiddleware`` serves one client; clients share a cache by sharing a
backend.

A backend that fails (Redis down, a locked file) never fails a call: the
error is logged as a warning, the call goes to the server, and the backend
is left alone for ``cooldown`` seconds, so an outage costs one timeout per
cooldown rather than one per call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from llmpipe import logs
from llmpipe.middleware.cache.backend import CacheBackend
from llmpipe.middleware.cache.entry import CachedReply
from llmpipe.middleware.cache.key import cache_key
from llmpipe.middleware.cache.memory import MemoryCache
from llmpipe.middleware.cache.policy import CachePolicy, deterministic, wants_cache
from llmpipe.middleware.cache.replay import replay, sse_body
from llmpipe.middleware.cache.scope import CacheScope, Identity
from llmpipe.pipeline import Handler, Middleware
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.streaming.events import StreamSummary
from llmpipe.streaming.sse import ServerSentEvent
from llmpipe.transport.base import Transport

__all__ = ["CacheMiddleware"]

_HIT = "cache hit {endpoint} model={model} key={key}"
_BACKEND_FAILED = (
    "cache {backend} could not {action} ({error_type}: {error}); {consequence}, "
    "and the cache is bypassed for {cooldown:g} s"
)
_UNREADABLE = "cache {backend} holds an unreadable entry for key={key}; calling the server"
_EVENT_STREAM = "text/event-stream"
_KEY_SHOWN = 16  # hex digits of the key in logs: enough to match lines, and not a secret


class CacheMiddleware(Middleware):
    """Serve deterministic requests from ``backend`` (default: a ``MemoryCache``).

    ``ttl`` (seconds) is passed to every store (None: the backend's default).
    ``policy`` decides for calls without a ``cache=`` option; the default
    caches only deterministic ones (see ``llmpipe.middleware.cache.policy``). After a
    backend error the backend is bypassed for ``cooldown`` seconds. Call
    ``close()`` when done: it finishes pending stores and closes the backend.

    ``scope`` says who shares a reply: ``"credential"`` (the default: one
    server, one credential), ``"server"`` or ``"body"`` (anyone).
    ``vary_headers`` names per-call headers that, besides
    ``scope.VARY_HEADERS``, say who asks (a gateway's tenant header).

    Raises ``TypeError`` when bound to a transport that does not give its
    ``origin`` and ``ValueError`` when bound to a second client of another
    server or credential (both unless ``scope="body"``), and ``RuntimeError``
    when called unbound in those scopes.
    """

    def __init__(
        self,
        backend: CacheBackend | None = None,
        *,
        ttl: float | None = None,
        policy: CachePolicy = deterministic,
        cooldown: float = 5.0,
        scope: CacheScope = "credential",
        vary_headers: Iterable[str] = (),
    ) -> None:
        if ttl is not None and ttl <= 0:
            raise ValueError(f"ttl must be None or > 0 seconds, got {ttl!r}")
        if cooldown < 0:
            raise ValueError(f"cooldown must be >= 0 seconds, got {cooldown!r}")
        self.backend: CacheBackend = backend if backend is not None else MemoryCache()
        self.ttl = ttl
        self.policy = policy
        self.cooldown = cooldown
        self._identity = Identity(scope, vary_headers)
        if scope == "credential" and not callable(getattr(self.backend, "secret", None)):
            raise TypeError(
                f"{self.backend!r} has no secret() method, which the 'credential' scope "
                "needs to fingerprint credentials; add 'async def secret(self) -> bytes' "
                "(32 random bytes, stored with the entries: see CacheBackend)"
            )
        self._down_until = 0.0  # time.monotonic() before which the backend is not asked
        self._flights: dict[str, asyncio.Future[CachedReply | None]] = {}
        self._writing: dict[str, CachedReply] = {}  # stored soon: readable at once
        self._pending: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"CacheMiddleware({self.backend!r}, ttl={self.ttl!r}, scope={self.scope!r})"

    @property
    def scope(self) -> CacheScope:
        return self._identity.scope

    def bind(self, transport: Transport) -> None:
        """Learn which server, and which credentials, the client uses."""
        self._identity.bind(transport)

    async def key(self, request: LLMRequest) -> str:
        """The key ``request`` is stored under (fetching the backend's secret if needed)."""
        if self._identity.needs_secret:
            self._identity.learn(await self.backend.secret())
        return self._key(request)

    def _key(self, request: LLMRequest) -> str:
        identity = self._identity
        return cache_key(request, origin=identity.origin(), credential=identity.credential(request))

    async def __call__(self, request: LLMRequest, call_next: Handler) -> LLMResponse:
        if not wants_cache(request, self.policy):
            return await call_next(request)
        started = time.perf_counter()
        if self._identity.needs_secret and not await self._learn_secret():
            request.context.cache = "miss"  # the cache is out of reach: as when a read fails
            return await call_next(request)
        key = self._key(request)
        reply = self._writing.get(key)
        if reply is None and key not in self._flights:
            reply = await self._read(key)
        if reply is None:
            if request.stream:
                return await self._miss(request, key, call_next)
            flight = self._flights.get(key)
            if flight is None:
                return await self._lead(request, key, call_next)
            reply = await _follow(flight)
            if reply is None:  # the leader failed, or its reply may not be stored
                return await self._miss(request, key, call_next)
        request.context.cache = "hit"
        body: Any = request.body or {}
        logs.info(
            _HIT, endpoint=request.endpoint, model=body.get("model", "-"), key=key[:_KEY_SHOWN]
        )
        return await replay(reply, request, time.perf_counter() - started)

    async def flush(self) -> None:
        """Wait for stores still running (a stream is stored in the background as it ends)."""
        while self._pending:
            await asyncio.gather(*self._pending)

    async def close(self) -> None:
        """Finish pending stores, then close the backend."""
        await self.flush()
        await self.backend.close()

    async def _lead(self, request: LLMRequest, key: str, call_next: Handler) -> LLMResponse:
        """A miss that identical requests arriving meanwhile wait on."""
        flight: asyncio.Future[CachedReply | None] = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        reply = None
        try:
            request.context.cache = "miss"
            response = await call_next(request)
            reply = CachedReply.of(response)
            if reply is not None:
                self._writing[key] = reply  # before the flight ends: no gap to miss in
        finally:
            del self._flights[key]
            if not flight.done():
                flight.set_result(reply)
        if reply is not None:
            await self._write(key, reply)
        return response

    async def _miss(self, request: LLMRequest, key: str, call_next: Handler) -> LLMResponse:
        """Call inward, then store the reply (a stream: once it has ended whole)."""
        request.context.cache = "miss"  # set first, so a counter inside sees it too
        response = await call_next(request)
        if response.stream is not None:
            response.stream.observe(_Recorder(self, key, response))
            return response
        reply = CachedReply.of(response)
        if reply is not None:
            await self._write(key, reply)
        return response

    def _available(self) -> bool:
        return self._down_until <= time.monotonic()

    async def _learn_secret(self) -> bool:
        """Fetch the backend's secret (once); False if the backend cannot give it now."""
        if not self._available():
            return False
        try:
            secret = await self.backend.secret()
        except Exception as error:
            self._warn("read the cache secret", error, "calling the server")
            return False
        self._identity.learn(secret)
        return True

    async def _read(self, key: str) -> CachedReply | None:
        if not self._available():
            return None
        try:
            data = await self.backend.get(key)
        except Exception as error:
            self._warn("read", error, "calling the server")
            return None
        if data is None:
            return None
        reply = CachedReply.from_bytes(data)
        if reply is None:
            logs.warning(_UNREADABLE, backend=self.backend, key=key[:_KEY_SHOWN])
        return reply

    async def _write(self, key: str, reply: CachedReply) -> None:
        self._writing[key] = reply
        try:
            if self._available():
                await self.backend.set(key, reply.to_bytes(), self.ttl)
        except Exception as error:
            self._warn("store a reply", error, "the reply is returned uncached")
        finally:
            if self._writing.get(key) is reply:
                del self._writing[key]

    def _write_later(self, key: str, reply: CachedReply) -> None:
        self._writing[key] = reply
        task = asyncio.get_running_loop().create_task(self._write(key, reply))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _warn(self, action: str, error: Exception, consequence: str) -> None:
        self._down_until = time.monotonic() + self.cooldown
        logs.warning(
            _BACKEND_FAILED,
            backend=self.backend,
            action=action,
            error_type=type(error).__name__,
            error=error,
            consequence=consequence,
            cooldown=self.cooldown,
        )


async def _follow(flight: asyncio.Future[CachedReply | None]) -> CachedReply | None:
    """The leader's storable reply, or None (then the follower calls for itself)."""
    if flight.get_loop() is not asyncio.get_running_loop():
        return None  # a client on another loop shares this middleware: its future is not ours
    return await asyncio.shield(flight)  # a follower cancelled must not cancel the others


class _Recorder:
    """Keeps a stream's events; stores them once the stream ends with ``[DONE]``."""

    __slots__ = ("_cache", "_events", "_key", "_status")

    def __init__(self, cache: CacheMiddleware, key: str, response: LLMResponse) -> None:
        self._cache = cache
        self._key = key
        self._status = response.status
        self._events: list[ServerSentEvent] | None = [] if response.ok else None

    def on_event(self, event: ServerSentEvent) -> None:
        if self._events is not None:
            self._events.append(event)

    def on_end(self, summary: StreamSummary) -> None:
        events, self._events = self._events, None
        if events is None or not summary.completed or summary.error is not None:
            return  # broken off, failed or left early: an incomplete reply is never stored
        reply = CachedReply(self._status, _EVENT_STREAM, sse_body(events), stream=True)
        self._cache._write_later(self._key, reply)
