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

_RECYCLING = "recycling the connection pool after {calls} calls"


class SessionMiddleware(Middleware):
    """Recycle the transport's pool after every ``recycle_after`` calls (None: never).

    ``recycle_after`` is read-only: the pipeline composes the layer once, and
    without a count it takes the layer out of the chain (a call then costs
    nothing here).
    """

    def __init__(self, recycle_after: int | None = None) -> None:
        if recycle_after is not None and recycle_after < 1:
            raise ValueError(f"recycle_after must be None or >= 1, got {recycle_after!r}")
        self._recycle_after = recycle_after
        self._transport: Transport | None = None
        self._calls = 0

    @property
    def recycle_after(self) -> int | None:
        return self._recycle_after

    def __repr__(self) -> str:
        return f"SessionMiddleware(recycle_after={self._recycle_after!r})"

    def bind(self, transport: Transport) -> None:
        """Called once by ``Pipeline``: the transport whose pool this layer manages."""
        self._transport = transport

    def wrap(self, call_next: Handler) -> Handler:
        """The layer composed once with ``call_next`` (see ``llmpipe.pipeline``):
        ``call_next`` itself when there is nothing to count."""
        if self._recycle_after is None or self._transport is None:
            return call_next
        every = self._recycle_after

        async def _counted(request: LLMRequest) -> LLMResponse:  # as log records name it
            try:
                return await call_next(request)
            finally:
                transport = self._transport  # the last bound: a layer shared by two clients
                assert transport is not None
                self._calls += 1
                if self._calls % every == 0 and not transport.closed:
                    logs.info(_RECYCLING, calls=self._calls)
                    await transport.recycle()

        return _counted

    def __call__(self, request: LLMRequest, call_next: Handler) -> Awaitable[LLMResponse]:
        """Outside a pipeline: the handler ``wrap`` makes, made for this call."""
        return self.wrap(call_next)(request)
