"""The transport contract: the innermost layer of the onion.

Besides sending, a transport answers two questions about its identity, for
layers whose state must not cross servers or tenants (a cache): ``origin``,
where it sends, and ``credential_fingerprint``, as whom, as a keyed hash so
the raw credentials never leave it. A router over several deployments answers
them for the group it stands for.
"""

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

    @property
    def origin(self) -> str | None:
        """Where requests go: ``scheme://host:port/path`` of the API root.

        Scheme and host lowercase, the port always written, no trailing slash,
        never the ``user:password`` a URL may carry. None (the default): this
        transport does not say, and layers that need to know refuse it.
        """
        return None

    def credential_fingerprint(self, key: bytes) -> str | None:
        """HMAC-SHA256 under ``key`` of the credentials this transport sends, in hex.

        None when it sends none. Two transports sending the same credentials
        give the same fingerprint under the same key; nothing else can be
        learnt from it. A transport that gives an ``origin`` must implement this.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement credential_fingerprint(); "
            "return an HMAC of the credentials it sends (None if it sends none)"
        )

    def abandon(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Release resources without awaiting: for a client dropped without ``close()``."""
