"""MockTransport: answer requests in process, for unit tests of one middleware.

End-to-end behaviour is tested over loopback HTTP with ``llmpipe.testing``;
this is for checking a single layer's logic without a server.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from llmpipe.errors import ClientClosedError
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.transport._identity import fingerprint
from llmpipe.transport.base import Transport

__all__ = ["MockTransport"]

MockHandler = Callable[[LLMRequest], "LLMResponse | Awaitable[LLMResponse]"]


class MockTransport(Transport):
    """Calls ``handler(request)`` (sync or async) instead of the network.

    ``origin`` and ``api_key`` are what it reports as its identity (it sends
    nothing anywhere), so layers keyed by server or credential can be tested.
    """

    def __init__(
        self, handler: MockHandler, *, origin: str = "mock://local", api_key: str | None = None
    ) -> None:
        self._handler = handler
        self._origin = origin
        self._api_key = api_key
        self._closed = False
        self.recycles = 0

    async def send(self, request: LLMRequest) -> LLMResponse:
        if self._closed:
            raise ClientClosedError("the transport is closed")
        result = self._handler(request)
        if inspect.isawaitable(result):
            return await result
        return result

    def __repr__(self) -> str:
        return f"MockTransport(origin={self._origin!r})"

    @property
    def origin(self) -> str:
        return self._origin

    def credential_fingerprint(self, key: bytes) -> str | None:
        return fingerprint(key, {"api_key": self._api_key})

    async def recycle(self) -> None:
        self.recycles += 1

    async def close(self) -> None:
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed
