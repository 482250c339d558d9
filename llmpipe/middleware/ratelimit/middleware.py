"""RateLimitMiddleware: stay under requests- and tokens-per-minute limits.

Before each call it reserves one request and the estimated tokens in the
backend's buckets and sleeps until the call may start. A call whose wait
would pass its deadline is refused at once with ``RateLimitError`` (429,
``x-should-retry: false``, ``retry-after-ms`` set to the wait), and nothing
is taken. After the reply, the token estimate is corrected with the usage the
server reports, from the JSON or from a stream's last chunk.

``adaptive=True`` also reads the ``x-ratelimit-*`` headers: when the server
says a limit is spent, calls are held until its reset instead of being sent
to collect a 429 (see ``ServerLimits.hold``).

If the backend's store is down (``LimiterUnavailable``), calls are not
failed: an in-process limiter stands in for ``_COOLDOWN`` seconds, so each
process still keeps to the limits on its own, and the error is logged.

Place it inside ``RetryMiddleware`` so every attempt is paced, and inside a
``ConcurrencyLimitMiddleware``, so a call is sent the moment it is let through.
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from llmpipe import logs
from llmpipe.errors import LLMAPIError, RateLimitError
from llmpipe.middleware.ratelimit.backend import Grant, LimiterBackend, LimiterUnavailable, Limits
from llmpipe.middleware.ratelimit.bucket import Bucket
from llmpipe.middleware.ratelimit.headers import ServerLimits
from llmpipe.middleware.ratelimit.local import LocalLimiter
from llmpipe.middleware.retry.policy import parse_retry_after
from llmpipe.pipeline import Handler, Middleware
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.wire.estimate import CharacterEstimator, TokenEstimator, estimate_function
from llmpipe.wire.usage import TokenCount, UsageWatcher, reply_usage

__all__ = ["RateLimitMiddleware"]

T = TypeVar("T")

_WAIT = "rate limit: {endpoint} waits {wait:.3f} s"
_HOLD = "rate limit: the server's limit is spent; holding calls for {seconds:.3f} s"
_REFUSED = "rate limit: {endpoint} refused: a {wait:.3f} s wait would pass its deadline"
_UNCORRECTED = "rate limit: could not correct the token estimate: {error_type}: {error}"
_UNAVAILABLE = "rate limit: {error}; limiting in process for {cooldown:.0f} s"
_COOLDOWN = 5.0
# A reset further off than this is a daily quota, not pacing; holding a minute
# is enough to stop hammering the server.
_MAX_HOLD = 60.0
_MAX_HOLD_CHECKS = 8


def _per_minute(name: str, value: float | None) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if value is not None and not (number and value > 0):
        raise ValueError(f"{name} must be None or a number > 0, got {value!r}")


class RateLimitMiddleware(Middleware):
    """Pace calls to ``requests_per_minute`` and ``tokens_per_minute`` (None: no limit).

    ``request_burst`` requests may go back to back (default 1: evenly spaced);
    ``token_burst`` tokens at once (default: one second's worth; a larger call
    waits for a full bucket, then leaves it in debt). ``backend`` defaults to
    a ``LocalLimiter``; share one backend to share a quota. ``estimator`` is a
    ``TokenEstimator``, or a callable returning an int or an object with
    ``total_tokens`` (so a budget's estimator can serve here too).
    """

    def __init__(
        self,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        *,
        request_burst: float = 1,
        token_burst: float | None = None,
        backend: LimiterBackend | None = None,
        estimator: TokenEstimator | Callable[[LLMRequest], Any] | None = None,
        adaptive: bool = True,
    ) -> None:
        _per_minute("requests_per_minute", requests_per_minute)
        _per_minute("tokens_per_minute", tokens_per_minute)
        if requests_per_minute is None and tokens_per_minute is None and not adaptive:
            raise ValueError("give requests_per_minute, tokens_per_minute, or adaptive=True")
        self.limits = Limits(
            requests=None
            if requests_per_minute is None
            else Bucket.per_minute(requests_per_minute, request_burst),
            tokens=None
            if tokens_per_minute is None
            else Bucket.per_minute(tokens_per_minute, token_burst),
        )
        self.backend: LimiterBackend = backend if backend is not None else LocalLimiter()
        self.estimator = estimator if estimator is not None else CharacterEstimator()
        self._estimate = estimate_function(self.estimator)
        self.adaptive = adaptive
        self._hold_until = float("-inf")
        self._pending: set[asyncio.Task[None]] = set()
        self._stand_in = LocalLimiter()
        self._down_until = float("-inf")

    def __repr__(self) -> str:
        return (
            f"RateLimitMiddleware({self.limits!r}, backend={self.backend!r}, "
            f"adaptive={self.adaptive!r})"
        )

    async def __call__(self, request: LLMRequest, call_next: Handler) -> LLMResponse:
        counts_tokens = self.limits.tokens is not None
        tokens = self._estimate(request).total_tokens if counts_tokens or self.adaptive else 0
        await self._admit(request, tokens if counts_tokens else 0)
        try:
            response = await call_next(request)
        except LLMAPIError as error:
            await self._learn(error.headers, error.status_code, tokens)
            raise
        await self._learn(response.headers, response.status, tokens)
        if counts_tokens:
            if response.stream is not None:
                response.stream.observe(
                    UsageWatcher(lambda used, _: self._correct_later(tokens, _total(used)))
                )
            else:
                await self._correct(tokens, _total(reply_usage(response)))
        return response

    async def flush(self) -> None:
        """Wait for the corrections that ended streams scheduled."""
        await asyncio.gather(*self._pending)

    async def close(self) -> None:
        """Finish pending corrections, then close the backend if it can be closed
        (a ``RedisLimiter``'s own pool). ``AsyncLLM.close()`` calls this."""
        await self.flush()
        closer = getattr(self.backend, "close", None)
        if closer is not None and inspect.iscoroutinefunction(closer):
            await closer()

    async def _using_backend(self, operation: Callable[[LimiterBackend], Awaitable[T]]) -> T:
        """``operation`` on the backend, or on the in-process stand-in while it is down."""
        loop = asyncio.get_running_loop()
        if loop.time() >= self._down_until:
            try:
                return await operation(self.backend)
            except LimiterUnavailable as error:
                self._down_until = loop.time() + _COOLDOWN
                logs.error(_UNAVAILABLE, error=error, cooldown=_COOLDOWN)
        return await operation(self._stand_in)

    async def _admit(self, request: LLMRequest, tokens: int) -> None:
        """Reserve, then sleep until the reservation and any server hold are over."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = request.options.deadline_at
        max_wait = None if deadline is None else deadline - started
        grant: Grant = await self._using_backend(
            lambda backend: backend.acquire(self.limits, 1, tokens, max_wait)
        )
        if not grant.granted:
            raise self._refusal(request, grant.wait)
        wait = grant.wait
        for _ in range(_MAX_HOLD_CHECKS):  # a reply may announce a hold while we sleep
            if wait > 0:
                logs.debug(_WAIT, endpoint=request.endpoint, wait=wait)
                await asyncio.sleep(wait)
            wait = self._hold_until - loop.time()
            if wait <= 0:
                break
            if deadline is not None and loop.time() + wait >= deadline:
                await self._using_backend(lambda backend: backend.reconcile(self.limits, -tokens))
                raise self._refusal(request, wait)

    def _refusal(self, request: LLMRequest, wait: float) -> RateLimitError:
        logs.warning(_REFUSED, endpoint=request.endpoint, wait=wait)
        return RateLimitError(
            f"{request.endpoint}: not sent: the client's own rate limit would make it wait "
            f"{wait:.2f} s, past the call's deadline",
            status_code=429,
            headers={"retry-after-ms": str(math.ceil(wait * 1000)), "x-should-retry": "false"},
        )

    async def _learn(self, headers: Mapping[str, str], status: int, tokens: int) -> None:
        """Hold further calls when the server says its limit is spent."""
        if not self.adaptive:
            return
        hold = ServerLimits.from_headers(headers).hold(tokens)
        if status == 429:
            hold = max(hold, parse_retry_after(headers) or 0.0)
        hold = min(hold, _MAX_HOLD)
        until = asyncio.get_running_loop().time() + hold
        if hold <= 0 or until <= self._hold_until:
            return
        self._hold_until = until
        logs.info(_HOLD, seconds=hold)
        await self._using_backend(lambda backend: backend.hold(hold))

    async def _correct(self, estimate: int, used: int | None) -> None:
        if used is not None and used != estimate:
            delta = used - estimate
            await self._using_backend(lambda backend: backend.reconcile(self.limits, delta))

    def _correct_later(self, estimate: int, used: int | None) -> None:
        """From a stream's (synchronous) end: correct in a task of its own."""
        if used is None or used == estimate:
            return
        task = asyncio.get_running_loop().create_task(self._correct_quietly(estimate, used))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _correct_quietly(self, estimate: int, used: int) -> None:
        try:
            await self._correct(estimate, used)
        except Exception as error:  # nobody awaits this task: report, do not lose it
            logs.error(_UNCORRECTED, error_type=type(error).__name__, error=error)


def _total(used: TokenCount | None) -> int | None:
    return None if used is None else used.total_tokens
