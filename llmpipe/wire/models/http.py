"""What the HTTP exchange behind a reply looked like: status, headers, timing, attempts.

A successful reply still carries facts a caller may need: the request id a
provider's support asks for, rate-limit headers, how long it took, how many
attempts retry made. The client attaches them to the reply it returns
(``reply.http``), so they need no second API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmpipe.request import FallbackStep, Headers, LLMResponse

__all__ = ["HTTPInfo", "RawReply", "attach_http"]

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "openai-request-id")


class HTTPInfo:
    """The HTTP facts of one call's final attempt.

    ``attempts`` counts every attempt the call made (1 without retries);
    ``elapsed`` is the final attempt's time to its reply (to the first event,
    for a stream), in seconds. Behind a ``Router``: ``deployment`` answered,
    after the moves in ``fallbacks``; ``hedges`` copies were sent to a second
    deployment, of which ``hedges_won`` gave the reply (None, (), 0, 0 without one).
    """

    __slots__ = (
        "attempts",
        "deployment",
        "elapsed",
        "endpoint",
        "fallbacks",
        "headers",
        "hedges",
        "hedges_won",
        "method",
        "status",
    )

    def __init__(self, response: LLMResponse) -> None:
        request = response.request
        context = request.context
        self.status: int = response.status
        self.headers: Headers = response.headers
        self.elapsed: float = response.elapsed
        self.attempts: int = context.attempts
        self.endpoint: str = request.endpoint
        self.method: str = request.method
        # copied: the facts as they stood when the reply came
        self.deployment: str | None = context.deployment
        self.fallbacks: tuple[FallbackStep, ...] = context.fallbacks
        self.hedges: int = context.hedges
        self.hedges_won: int = context.hedges_won

    @property
    def request_id(self) -> str | None:
        """The server's id for this request (``x-request-id`` or ``request-id``)."""
        headers = self.headers
        for name in _REQUEST_ID_HEADERS:
            value = headers.get(name)
            if value is not None:
                return value
        return None

    def __repr__(self) -> str:
        routed = ""
        if self.deployment is not None:
            routed = (
                f", deployment={self.deployment!r}, fallbacks={len(self.fallbacks)}, "
                f"hedges={self.hedges} (won {self.hedges_won})"
            )
        return (
            f"HTTPInfo({self.method} {self.endpoint}: status={self.status}, "
            f"request_id={self.request_id!r}, elapsed={self.elapsed:.3f}, "
            f"attempts={self.attempts}{routed})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # aiohttp's header proxy does not pickle, and a reply travels inside errors
        # that cross processes (StreamTruncatedError.partial): send a plain copy.
        facts = (self.status, list(self.headers.items()), self.elapsed, self.attempts)
        routed = (self.deployment, self.fallbacks, self.hedges, self.hedges_won)
        return (_unpickled, (*facts, self.endpoint, self.method, routed))


def _unpickled(
    status: int,
    headers: list[tuple[str, str]],
    elapsed: float,
    attempts: int,
    endpoint: str,
    method: str,
    routed: tuple[str | None, tuple[FallbackStep, ...], int, int] = (None, (), 0, 0),
) -> HTTPInfo:
    from multidict import CIMultiDict

    info = HTTPInfo.__new__(HTTPInfo)
    info.status, info.headers, info.elapsed = status, CIMultiDict(headers), elapsed
    info.attempts, info.endpoint, info.method = attempts, endpoint, method
    info.deployment, info.fallbacks, info.hedges, info.hedges_won = routed
    return info


def attach_http(model: object, info: HTTPInfo) -> None:
    """Set ``http`` on a reply model the client has just built (frozen to its users)."""
    object.__setattr__(model, "http", info)


class RawReply:
    """The reply to a generic call (``llm.request``): the body and the HTTP facts.

    For endpoints llmpipe does not model (``/tokenize``, ``/rerank``,
    ``/v1/responses``, a vendor's own): ``json()`` parses the body once
    (``LLMResponseError`` if it is not JSON), ``text()`` decodes it.
    """

    __slots__ = ("_response", "http")

    def __init__(self, response: LLMResponse) -> None:
        self._response = response
        self.http = HTTPInfo(response)

    @property
    def content(self) -> bytes:
        return self._response.content

    def json(self) -> Any:
        return self._response.json()

    def text(self) -> str:
        return self._response.text()

    def __repr__(self) -> str:
        return f"RawReply({self.http!r}, {len(self.content)} bytes)"
