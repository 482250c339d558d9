"""CacheBackend: where cached replies live. Three ship with llmpipe.

- ``MemoryCache``: this process only; LRU with a size bound and TTL (default).
- ``SQLiteCache``: a local file; survives restarts, shared by processes on one machine.
- ``RedisCache``: shared by every process that reaches the same Redis.

A backend stores opaque bytes under a key; it knows nothing of requests.
Any exception it raises is caught by ``CacheMiddleware``, logged, and the
call goes to the server: a cache that is down must never fail a call.

A backend also holds the cache's **secret**: 32 random bytes, made once and
stored with the entries, under which credentials are fingerprinted for the
key. It belongs to the backend, not to the middleware, because it must be
exactly as shared as the entries: every process reading one Redis or one
file must compute the same keys (or they would never share a reply), and a
different cache must compute different ones (so its fingerprints cannot be
matched with ours). A middleware lives in one process; a secret it made
would split a shared cache into one cache per process.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["CacheBackend"]


@runtime_checkable
class CacheBackend(Protocol):
    """A small async key-value store with expiry."""

    async def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, or None if absent or expired."""

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """Store ``value``; it expires after ``ttl`` seconds (None: the backend's default)."""

    async def secret(self) -> bytes:
        """This cache's secret: made and stored on first use, then the same for
        every process that uses the same store. Never logged or shown."""

    async def close(self) -> None:
        """Release connections and threads. Safe to call twice."""
