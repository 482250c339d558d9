"""SessionMiddleware: the spec's "periodic session reset", made automatic.

Long-running processes recycle the connection pool every ``recycle_after``
calls, so stale keep-alive connections and DNS answers do not live forever.
In-flight calls finish on the old pool first.
"""

from __future__ import annotations

from collections.abc import Awaitable

from llmpipe import logs
from llmpipe.pipeline import Handler, Middleware
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.transport.base import Transport

__all__ = ["SessionMiddleware"]


class SessionMiddleware(Middleware):
    """Recycle the transport's pool after every ``recycle_after`` calls (None: never)."""

    def __init__(self, recycle_after: int | None = None) -> None:
        if recycle_after is not None and recycle_after < 1:
            raise ValueError(f"recycle_after must be None or >= 1, got {recycle_after!r}")
        self.recycle_after = recycle_after
        self._transport: Transport | None = None
        self._calls = 0

    def __repr__(self) -> str:
        return f"SessionMiddleware(recycle_after={self.recycle_after!r})"

    def bind(self, transport: Transport) -> None:
        """Called once by ``Pipeline``: the transport whose pool this layer manages."""
        self._transport = transport

    def __call__(self, request: LLMRequest, call_next: Handler) -> Awaitable[LLMResponse]:
        if self.recycle_after is None or self._transport is None:
            return call_next(request)  # nothing to count: no coroutine of this layer's own
        return self._counted(request, call_next)

    async def _counted(self, request: LLMRequest, call_next: Handler) -> LLMResponse:
        assert self._transport is not None
        assert self.recycle_after is not None
        try:
            return await call_next(request)
        finally:
            self._calls += 1
            if self._calls % self.recycle_after == 0 and not self._transport.closed:
                logs.info("recycling the connection pool after {calls} calls", calls=self._calls)
                await self._transport.recycle()
