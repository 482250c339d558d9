"""RedisBudget: one token and cost budget shared by many processes and machines.

Reserving is one Lua script: read what is spent and held, refuse or add the
hold, atomically, so workers racing for the last of a budget never jointly
overshoot it. Settling is a second script. Keys, for ``key="team-a"``:
``team-a:totals`` (hash: tokens, cost, held_tokens, held_cost),
``team-a:holds`` (hash: hold id -> "tokens cost") and ``team-a:expiry``
(sorted set: hold id by expiry time). A process that dies between reserve and
settle cannot leak its hold: holds expire after ``hold_ttl`` seconds and the
next reserve releases them. For Redis Cluster, give ``key`` a hash tag
(``"{team-a}"``) so the three keys share a slot.

It talks to Redis through redis-py's synchronous client, in a worker thread:
such a client works from any event loop and thread, so one ``RedisBudget``
serves ``AsyncLLM`` and ``LLM`` alike, and a round trip of a fraction of a
millisecond beside an LLM call of seconds costs nothing worth a second client.
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from typing import TYPE_CHECKING, Any

from llmpipe.errors import LLMConnectionError, UsageLimitExceeded
from llmpipe.middleware.usage.budget import BudgetLimits, Charge, Hold, Spent

if TYPE_CHECKING:
    import redis

__all__ = ["RedisBudget"]

_RELEASE_EXPIRED = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', t)) do
  local held = redis.call('HGET', KEYS[2], id)
  if held then
    local sep = string.find(held, ' ')
    redis.call('HINCRBY', KEYS[1], 'held_tokens', -tonumber(string.sub(held, 1, sep - 1)))
    redis.call('HINCRBYFLOAT', KEYS[1], 'held_cost', -tonumber(string.sub(held, sep + 1)))
    redis.call('HDEL', KEYS[2], id)
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', t)
"""

# ARGV: hold id, tokens, cost, max tokens ('' = none), max cost ('' = none), ttl seconds
_RESERVE = (
    _RELEASE_EXPIRED
    + """
local v = redis.call('HMGET', KEYS[1], 'tokens', 'cost', 'held_tokens', 'held_cost')
local tokens = tonumber(v[1] or 0) + tonumber(v[3] or 0)
local cost = tonumber(v[2] or 0) + tonumber(v[4] or 0)
if ARGV[4] ~= '' and tokens + tonumber(ARGV[2]) > tonumber(ARGV[4]) then
  return {'tokens', tostring(tokens)}
end
if ARGV[5] ~= '' and cost + tonumber(ARGV[3]) > tonumber(ARGV[5]) then
  return {'cost', tostring(cost)}
end
redis.call('HINCRBY', KEYS[1], 'held_tokens', ARGV[2])
redis.call('HINCRBYFLOAT', KEYS[1], 'held_cost', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
redis.call('ZADD', KEYS[3], t + tonumber(ARGV[6]), ARGV[1])
return {'ok', ''}
"""
)

# ARGV: hold id, actual tokens, actual cost. A hold that expired was already released.
_SETTLE = """
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held then
  local sep = string.find(held, ' ')
  redis.call('HINCRBY', KEYS[1], 'held_tokens', -tonumber(string.sub(held, 1, sep - 1)))
  redis.call('HINCRBYFLOAT', KEYS[1], 'held_cost', -tonumber(string.sub(held, sep + 1)))
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
end
redis.call('HINCRBY', KEYS[1], 'tokens', ARGV[2])
redis.call('HINCRBYFLOAT', KEYS[1], 'cost', ARGV[3])
"""


class RedisBudget:
    """A budget kept in Redis under ``key``; give it a URL or a ``redis.Redis``.

    A client passed in stays the caller's to close; one made from a URL is
    closed by ``close()``.
    """

    def __init__(
        self,
        redis_or_url: str | redis.Redis,
        *,
        key: str = "llmpipe:budget",
        max_tokens: int | None = None,
        max_cost: float | None = None,
        hold_ttl: float = 600.0,
    ) -> None:
        if not key:
            raise ValueError("RedisBudget needs a non-empty key")
        if not hold_ttl > 0:
            raise ValueError(f"hold_ttl must be > 0 seconds, got {hold_ttl!r}")
        self.limits = BudgetLimits(max_tokens=max_tokens, max_cost=max_cost)
        self.key = key
        self.hold_ttl = hold_ttl
        self._owned = isinstance(redis_or_url, str)
        self._redis: redis.Redis = (
            _module().Redis.from_url(redis_or_url)
            if isinstance(redis_or_url, str)
            else redis_or_url
        )
        self._keys = [f"{key}:totals", f"{key}:holds", f"{key}:expiry"]
        self._reserve = self._redis.register_script(_RESERVE)
        self._settle = self._redis.register_script(_SETTLE)

    def __repr__(self) -> str:
        limits = self.limits
        return f"RedisBudget(key={self.key!r}, {limits.max_tokens!r}, {limits.max_cost!r})"

    async def reserve(self, charge: Charge) -> Hold:
        hold = Hold(uuid.uuid4().hex, charge)
        limits = self.limits
        args = [
            hold.id,
            charge.tokens,
            repr(float(charge.cost)),
            "" if limits.max_tokens is None else limits.max_tokens,
            "" if limits.max_cost is None else repr(float(limits.max_cost)),
            repr(float(self.hold_ttl)),
        ]
        verdict, used = map(_text, await asyncio.to_thread(self._call, self._reserve, args))
        if verdict == "ok":
            return hold
        if verdict == "tokens":
            why = f"token budget: {used} used or held + {charge.tokens} estimated"
            why += f" for this call > {limits.max_tokens}"
        else:
            why = f"cost budget: {float(used):.6g} used or held + {charge.cost:.6g} estimated"
            why += f" for this call > {limits.max_cost:.6g}"
        raise UsageLimitExceeded(f"call refused, nothing sent: {why} (shared budget {self.key!r})")

    async def settle(self, hold: Hold, actual: Charge) -> None:
        args = [hold.id, actual.tokens, repr(float(actual.cost))]
        await asyncio.to_thread(self._call, self._settle, args)

    def spent(self) -> Spent:
        """What every process sharing ``key`` has spent and holds (blocking)."""
        values = self._guard(
            self._redis.hmget, self._keys[0], ["tokens", "cost", "held_tokens", "held_cost"]
        )
        tokens, cost, held_tokens, held_cost = (v or b"0" for v in values)
        return Spent(
            tokens=int(tokens),
            cost=float(cost),
            held_tokens=int(held_tokens),
            held_cost=max(0.0, float(held_cost)),
        )

    def reset(self) -> None:
        """Forget what was spent, for every process; holds stay held (blocking)."""
        self._guard(self._redis.hset, self._keys[0], mapping={"tokens": 0, "cost": 0})

    def close(self) -> None:
        if self._owned:
            self._redis.close()

    def _call(self, script: Any, args: list[Any]) -> Any:
        return self._guard(script, keys=self._keys, args=args)

    def _guard(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a Redis command, mapping its failures into the llmpipe error tree."""
        try:
            return function(*args, **kwargs)
        except _module().RedisError as exc:
            raise LLMConnectionError(f"usage budget {self.key!r}: Redis failed: {exc}") from exc


def _text(value: bytes | str) -> str:
    """Script replies are bytes, or str from a client made with decode_responses=True."""
    return value.decode() if isinstance(value, bytes) else value


def _module() -> Any:
    """redis-py, imported on first use: it is an optional extra (llmpipe[redis])."""
    try:
        return importlib.import_module("redis")
    except ImportError as exc:
        raise ImportError("RedisBudget needs redis-py: pip install 'llmpipe[redis]'") from exc
