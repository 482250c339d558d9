"""RedisLimiter: one quota shared by every process that uses the same key.

Each operation is one Lua script, so the check and the take are atomic
across processes and machines, and every script reads the clock with Redis
``TIME``: clients' clocks never need to agree. The state is one hash per key
(each bucket's ``full_at`` and a ``hold``), expiring a minute after the
buckets would be full again. The maths is ``llmpipe.middleware.ratelimit.bucket``'s,
in Lua. Scripts run by EVALSHA, loaded again if the server forgot them.

Every process sharing a key must use the same limits. A Redis that cannot
be reached raises ``LimiterUnavailable`` within ``socket_timeout`` (one quick
retry), and ``RateLimitMiddleware`` limits in process meanwhile. Needs Redis
5 or newer, and the ``redis`` package (``pip install llmpipe[redis]``),
imported only when the limiter is first used.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import TYPE_CHECKING, Any

from llmpipe.middleware.ratelimit.backend import Grant, LimiterUnavailable, Limits

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisLimiter"]

_SOCKET_TIMEOUT = 1.0
_RETRIES = 1

_PRELUDE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local function read(field, default)
  return tonumber(redis.call('HGET', KEYS[1], field)) or default
end
local function write(field, value)
  redis.call('HSET', KEYS[1], field, string.format('%.6f', value))
end
local function keep_until(moment)
  local wanted = math.ceil((moment - now + 60) * 1000)
  if redis.call('PTTL', KEYS[1]) < wanted then
    redis.call('PEXPIRE', KEYS[1], wanted)
  end
end
"""

# ARGV: max_wait ("" for none), then (name, rate, capacity, cost) per bucket.
_ACQUIRE = """
local start = math.max(now, read('hold', now))
local buckets = {}
for i = 2, #ARGV, 4 do
  local rate, capacity, cost = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local full_at = read(ARGV[i], now)
  start = math.max(start, full_at - (capacity - math.min(cost, capacity)) / rate)
  buckets[#buckets + 1] = {ARGV[i], rate, cost, full_at}
end
local wait = start - now
local max_wait = tonumber(ARGV[1])
if max_wait and wait > 0 and wait >= max_wait then
  return {0, string.format('%.6f', wait)}
end
for _, b in ipairs(buckets) do
  local full_at = math.max(b[4], start) + b[3] / b[2]
  write(b[1], full_at)
  keep_until(full_at)
end
return {1, string.format('%.6f', wait)}
"""

# ARGV: rate, tokens_delta
_RECONCILE = """
local full_at = math.max(read('tokens', now), now) + tonumber(ARGV[2]) / tonumber(ARGV[1])
write('tokens', full_at)
keep_until(full_at)
return 1
"""

# ARGV: seconds
_HOLD = """
local hold = now + tonumber(ARGV[1])
if hold > read('hold', 0) then
  write('hold', hold)
  keep_until(hold)
end
return 1
"""

# ARGV: (name, rate, capacity) per bucket
_AVAILABLE = """
local levels = {}
for i = 1, #ARGV, 3 do
  local rate, capacity = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local level = capacity - math.max(0, read(ARGV[i], now) - now) * rate
  levels[#levels + 1] = string.format('%.6f', level)
end
return levels
"""


class RedisLimiter:
    """Buckets in Redis under ``key`` (default ``llmpipe:ratelimit:<name>``).

    ``redis`` is a URL (the limiter then owns its connection pool, closed by
    ``close()``, by ``async with``, or by the client it limits; a later call
    opens a new one) or a ``redis.asyncio.Redis`` you own. A limiter serves
    one event loop at a time: give each sync ``LLM`` its own, under the same
    name. Construction does no I/O.
    """

    def __init__(
        self,
        redis: str | Redis,
        name: str = "default",
        *,
        key: str | None = None,
        socket_timeout: float = _SOCKET_TIMEOUT,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        self.key = key if key is not None else f"llmpipe:ratelimit:{name}"
        self._url = redis if isinstance(redis, str) else None
        self._client: Redis | None = None if isinstance(redis, str) else redis
        self._socket_timeout = socket_timeout
        self._scripts: dict[str, AsyncScript] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"RedisLimiter(key={self.key!r})"  # never the URL: it may hold a password

    async def acquire(
        self, limits: Limits, requests: int, tokens: int, max_wait: float | None = None
    ) -> Grant:
        args: list[Any] = ["" if max_wait is None else repr(max_wait)]
        for name, bucket, cost in limits.demands(requests, tokens):
            args += [name, repr(bucket.rate), repr(bucket.capacity), repr(cost)]
        granted, wait = await self._run("acquire", args)
        return Grant(float(wait), granted=bool(granted))

    async def reconcile(self, limits: Limits, tokens_delta: int) -> None:
        if limits.tokens is not None and tokens_delta:
            await self._run("reconcile", [repr(limits.tokens.rate), tokens_delta])

    async def hold(self, seconds: float) -> None:
        await self._run("hold", [repr(seconds)])

    async def available(self, limits: Limits) -> dict[str, float]:
        demands = limits.demands(0, 0)
        args: list[Any] = []
        for name, bucket, _ in demands:
            args += [name, repr(bucket.rate), repr(bucket.capacity)]
        levels = await self._run("available", args) if demands else []
        return {name: float(level) for (name, _, _), level in zip(demands, levels, strict=True)}

    async def close(self) -> None:
        """Close the pool this limiter opened; a client passed in is left open.
        Safe to call twice."""
        if self._url is None or self._client is None:
            return
        client, self._client = self._client, None
        self._scripts, self._loop = {}, None
        await client.aclose()

    async def __aenter__(self) -> RedisLimiter:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _run(self, script: str, args: list[Any]) -> Any:
        from redis.exceptions import RedisError

        scripts = self._scripts_here()
        try:
            return await scripts[script](keys=[self.key], args=args)
        except (RedisError, OSError) as exc:
            raise LimiterUnavailable(f"rate limits in Redis: {type(exc).__name__}: {exc}") from exc

    def _scripts_here(self) -> dict[str, AsyncScript]:
        """The scripts, on a client made for the running loop on first use."""
        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop:
            raise RuntimeError(
                "a RedisLimiter serves one event loop; give each client its own "
                "(under the same name they still share one quota)"
            )
        if not self._scripts:
            client = self._client if self._client is not None else self._connect()
            self._scripts = {name: client.register_script(_PRELUDE + s) for name, s in _SCRIPTS}
            self._loop = loop
        return self._scripts

    def _connect(self) -> Redis:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._client = Redis.from_url(
            str(self._url),
            socket_timeout=self._socket_timeout,
            socket_connect_timeout=self._socket_timeout,
            retry=Retry(NoBackoff(), _RETRIES),
        )
        return self._client


_SCRIPTS = (
    ("acquire", _ACQUIRE),
    ("reconcile", _RECONCILE),
    ("hold", _HOLD),
    ("available", _AVAILABLE),
)
