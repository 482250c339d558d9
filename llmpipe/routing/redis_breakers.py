"""RedisBreakers: circuit breakers kept in step across processes through Redis.

Per deployment name, one hash holds the breaker as the processes last
agreed: ``state`` (open or closed), ``until`` (when an opening ends, in
Redis's own clock, so machines' clocks never need to agree) and ``epoch``,
bumped by every change. A process that opens or closes a breaker publishes
it without waiting; each router reads every deployment of an alias in one
script at most every ``refresh`` seconds and adopts a change it has not yet
seen (a higher epoch), so its own news is never undone by an older read.
After a cooldown, the half-open probe is claimed with ``SET NX``: one
process probes, the others keep away until it reports.

If Redis cannot be reached, breakers go on deciding in each process alone
(the error is logged, at most once per ``refresh``); calls never fail for
it. Needs the ``redis`` package (``pip install llmpipe[redis]``), imported
on first use. One instance serves one event loop, like ``RedisLimiter``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llmpipe import logs
from llmpipe.routing.breaker import BreakerState
from llmpipe.routing.replica import Replica

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisBreakers"]

_TIMEOUT = 1.0
_KEEP_MS = 86_400_000  # a day: an idle breaker's hash does not outlive its use by much
_UNREACHABLE = "router: shared breakers failed ({error}); deciding in this process alone"

_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

# KEYS: hash, probe key. ARGV: milliseconds open. Returns the epoch after.
_OPEN = (
    _NOW
    + """
local ends = now + tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'until')) or 0
if redis.call('HGET', KEYS[1], 'state') == 'open' and current >= ends then
  return tonumber(redis.call('HGET', KEYS[1], 'epoch')) or 0
end
redis.call('HSET', KEYS[1], 'state', 'open', 'until', ends)
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]))
redis.call('DEL', KEYS[2])
return epoch
"""
)

# KEYS: hash, probe key. Returns the epoch after.
_CLOSE = """
redis.call('HSET', KEYS[1], 'state', 'closed')
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
redis.call('DEL', KEYS[2])
return epoch
"""

# KEYS: hashes. Returns, per hash: epoch, state, milliseconds left open.
_READ = (
    _NOW
    + """
local out = {}
for i, key in ipairs(KEYS) do
  local fields = redis.call('HMGET', key, 'epoch', 'state', 'until')
  out[#out + 1] = tonumber(fields[1]) or 0
  out[#out + 1] = fields[2] or ''
  out[#out + 1] = (tonumber(fields[3]) or 0) - now
end
return out
"""
)


class RedisBreakers:
    """Breaker state in Redis under ``prefix``, shared by every router using it.

    ``redis`` is a URL (this object then owns its connection pool, closed
    with the router) or a ``redis.asyncio.Redis`` you own. Routers that share
    must name their deployments alike (``Deployment(name=...)``). A probe
    claim lasts ``probe_claim`` seconds at most (a process that dies
    mid-probe does not block the others longer).
    """

    def __init__(
        self,
        redis: str | Redis,
        *,
        prefix: str = "llmpipe:breaker",
        refresh: float = 0.25,
        probe_claim: float = 30.0,
        socket_timeout: float = _TIMEOUT,
    ) -> None:
        if not (refresh >= 0 and probe_claim > 0):
            raise ValueError("RedisBreakers needs refresh >= 0 and probe_claim > 0 seconds")
        self.prefix = prefix
        self.refresh_every = refresh
        self.probe_claim = probe_claim
        self._url = redis if isinstance(redis, str) else None
        self._client: Redis | None = None if isinstance(redis, str) else redis
        self._timeout = socket_timeout
        self._scripts: dict[str, AsyncScript] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seen: dict[str, int] = {}  # the epoch of the last change known here
        self._read_at: dict[tuple[str, ...], float] = {}
        self._failed_at = float("-inf")
        self._pending: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"RedisBreakers(prefix={self.prefix!r})"  # never the URL: it may hold a password

    def attach(self, names: Sequence[str]) -> None:
        for name in names:
            self._seen.setdefault(name, 0)

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    async def refresh(self, replicas: Sequence[Replica], now: float) -> None:
        names = tuple(r.name for r in replicas)
        if now - self._read_at.get(names, float("-inf")) < self.refresh_every:
            return
        self._read_at[names] = now
        try:
            values = await self._run("read", [self._key(n) for n in names], [])
        except _Unavailable:
            return
        for index, replica in enumerate(replicas):
            epoch, state, left_ms = values[3 * index : 3 * index + 3]
            self._adopt(replica, int(epoch), _text(state), int(left_ms) / 1000, now)

    def _adopt(self, replica: Replica, epoch: int, state: str, left: float, now: float) -> None:
        """Take another process's change, unless this one already knows it."""
        if epoch <= self._seen.get(replica.name, 0):
            return
        self._seen[replica.name] = epoch
        breaker = replica.breaker
        if state == "open":
            if breaker.state is not BreakerState.HALF_OPEN:
                breaker.trip(now, max(0.0, left))
        elif state == "closed" and breaker.reset():
            replica.wake()

    async def claim_probe(self, replica: Replica, now: float) -> bool:
        try:
            client = self._connection()
            claimed = await client.set(
                self._key(replica.name) + ":probe",
                "1",
                nx=True,
                px=round(self.probe_claim * 1000),
            )
        except Exception as error:  # a store that is down must not fail the call
            self._unavailable(error)
            return True
        if not claimed:  # another process probes: ask again only after a refresh
            replica.breaker.trip(now, max(self.refresh_every, 0.05))
        return bool(claimed)

    def publish_open(self, replica: Replica, seconds: float) -> None:
        self._publish(replica.name, "open", [round(seconds * 1000), _KEEP_MS])

    def publish_closed(self, replica: Replica) -> None:
        self._publish(replica.name, "close", [_KEEP_MS])

    def _publish(self, name: str, script: str, args: list[Any]) -> None:
        key = self._key(name)
        sending = self._send(name, script, [key, key + ":probe"], args)
        task = asyncio.get_running_loop().create_task(sending)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self, name: str, script: str, keys: list[str], args: list[Any]) -> None:
        try:
            epoch = int(await self._run(script, keys, args))
        except _Unavailable:
            return
        self._seen[name] = max(self._seen.get(name, 0), epoch)

    async def settled(self) -> None:
        """Wait for the changes published so far to reach Redis."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def close(self) -> None:
        """Publish what is pending, and close the pool this object opened."""
        await self.settled()
        if self._url is None or self._client is None:
            return
        client, self._client = self._client, None
        self._scripts, self._loop = {}, None
        await client.aclose()

    async def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        try:
            scripts = self._scripts_here()
            return await scripts[script](keys=keys, args=args)
        except Exception as error:
            self._unavailable(error)
            raise _Unavailable from error

    def _unavailable(self, error: BaseException) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._failed_at >= max(self.refresh_every, 1.0):
            self._failed_at = now
            logs.warning(_UNREACHABLE, error=f"{type(error).__name__}: {error}")

    def _scripts_here(self) -> dict[str, AsyncScript]:
        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop is not loop:
            raise RuntimeError(
                "a RedisBreakers serves one event loop; give each client its own "
                "(with the same prefix they still share their breakers)"
            )
        if not self._scripts:
            client = self._connection()
            self._scripts = {
                name: client.register_script(text)
                for name, text in (("open", _OPEN), ("close", _CLOSE), ("read", _READ))
            }
            self._loop = loop
        return self._scripts

    def _connection(self) -> Redis:
        if self._client is None:
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            self._client = Redis.from_url(
                str(self._url),
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                retry=Retry(NoBackoff(), 1),
            )
        return self._client


class _Unavailable(Exception):
    """Redis could not be reached (already logged)."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
