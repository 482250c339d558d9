"""MockTransport: answer requests in process, for unit tests of one middleware.

End-to-end behaviour is tested over loopback HTTP with ``llmpipe.testing``;
this is for checking a single layer's logic without a server.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from llmpipe.errors import ClientClosedError
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.transport.base import Transport

__all__ = ["MockTransport"]

MockHandler = Callable[[LLMRequest], "LLMResponse | Awaitable[LLMResponse]"]


class MockTransport(Transport):
    """Calls ``handler(request)`` (sync or async) instead of the network."""

    def __init__(self, handler: MockHandler) -> None:
        self._handler = handler
        self._closed = False
        self.recycles = 0

    async def send(self, request: LLMRequest) -> LLMResponse:
        if self._closed:
            raise ClientClosedError("the transport is closed")
        result = self._handler(request)
        if inspect.isawaitable(result):
            return await result
        return result

    async def recycle(self) -> None:
        self.recycles += 1

    async def close(self) -> None:
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed
