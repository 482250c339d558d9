"""The transport contract: the innermost layer of the onion."""

from __future__ import annotations

import abc

from llmpipe.request import LLMRequest, LLMResponse

__all__ = ["Transport"]


class Transport(abc.ABC):
    """Sends one request and returns the reply, whatever its status.

    Network failures are raised as ``LLMConnectionError``/``LLMTimeoutError``;
    HTTP error statuses are returned, not raised, so middlewares see them.
    """

    @abc.abstractmethod
    async def send(self, request: LLMRequest) -> LLMResponse:
        """Send ``request`` and return the complete response."""

    async def recycle(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Replace pooled connections with fresh ones; in-flight calls finish first."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release every resource; later ``send`` calls raise ``ClientClosedError``."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool:
        """Whether ``close()`` has run."""

    @property
    def holds_resources(self) -> bool:
        """Whether sockets or sessions are open that ``close()`` must release."""
        return False

    def abandon(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Release resources without awaiting: for a client dropped without ``close()``."""
