"""RedisCache: one cache for every process and machine that reaches the same Redis.

Values are written with ``SET key value PX <ms>`` so Redis itself expires
them; keys are ``prefix + cache key``. The cache's secret is the key
``prefix + "secret"``, written once with ``SET NX`` (no expiry) by whichever
process comes first, so every process sharing the prefix agrees on it; it sits
under the prefix so an ACL limited to the prefix covers it. If it is deleted
(or evicted), a new one is made: entries written before are no longer found.

Needs the ``redis`` extra (``pip install llmpipe[redis]``), imported only when
a client is made.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisCache"]

# Seconds to connect or answer, and one immediate retry (for a pooled
# connection Redis closed): a Redis that is down or unreachable must cost a
# call little before it falls back to the server. redis-py's own default
# retries ten times with backoff, seconds per command.
_SOCKET_TIMEOUT = 1.0
_RETRIES = 1


class RedisCache:
    """A cache in Redis, from a URL (``redis://host:6379/0``) or a ready client.

    A client made here from ``url`` is closed by ``close()``; a client passed
    in belongs to the caller and is left open. A client passed in must not
    use ``decode_responses=True``: values are bytes.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Redis | None = None,
        prefix: str = "llmpipe:cache:",
        ttl: float | None = None,
        socket_timeout: float = _SOCKET_TIMEOUT,
    ) -> None:
        if (url is None) == (client is None):
            raise ValueError("give RedisCache a url or a client (exactly one)")
        if ttl is not None and ttl <= 0:
            raise ValueError(f"ttl must be None or > 0 seconds, got {ttl!r}")
        self.prefix = prefix
        self.ttl = ttl
        self._url = url
        self._socket_timeout = socket_timeout
        self._client: Redis | None = client
        self._owned = client is None
        self._secret: bytes | None = None

    def __repr__(self) -> str:
        # The URL may hold a password: show only where the keys go.
        return f"RedisCache(prefix={self.prefix!r}, ttl={self.ttl!r})"

    @property
    def client(self) -> Redis:
        """The redis.asyncio client (made from the URL on first use)."""
        if self._client is None:
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            assert self._url is not None
            self._client = Redis.from_url(
                self._url,
                socket_timeout=self._socket_timeout,
                socket_connect_timeout=self._socket_timeout,
                retry=Retry(NoBackoff(), _RETRIES),
            )
        return self._client

    async def get(self, key: str) -> bytes | None:
        value: Any = await self.client.get(self.prefix + key)
        if isinstance(value, str):  # a client with decode_responses=True
            return value.encode()
        return value if value is None else bytes(value)

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        lifetime = self.ttl if ttl is None else ttl
        milliseconds = None if lifetime is None else max(1, round(lifetime * 1000))
        await self.client.set(self.prefix + key, value, px=milliseconds)

    async def secret(self) -> bytes:
        if self._secret is None:
            name = self.prefix + "secret"
            # Hex text, so a client with decode_responses=True reads it too.
            await self.client.set(name, os.urandom(32).hex(), nx=True)
            value: Any = await self.client.get(name)
            if not value:  # deleted between the two commands: try again on the next call
                raise LookupError(f"the cache secret {name!r} vanished from Redis as it was read")
            self._secret = bytes.fromhex(value.decode() if isinstance(value, bytes) else value)
        return self._secret

    async def close(self) -> None:
        if self._owned and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
