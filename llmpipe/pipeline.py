"""The middleware contract and the Pipeline that composes it once.

A middleware is any object (or plain async function) with the shape::

    async def __call__(self, request: LLMRequest, call_next: Handler) -> LLMResponse

The first middleware listed is the outermost layer of the onion: it sees the
call first and the result last. ``Pipeline`` binds the chain at construction,
so a call walks pre-built links, never the list.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.transport.base import Transport

__all__ = ["Handler", "Middleware", "MiddlewareStack", "Pipeline"]

Handler = Callable[[LLMRequest], Awaitable[LLMResponse]]


@runtime_checkable
class Middleware(Protocol):
    """One layer of the onion."""

    async def __call__(self, request: LLMRequest, call_next: Handler) -> LLMResponse: ...


MiddlewareLike = Middleware | Callable[[LLMRequest, Handler], Awaitable[LLMResponse]]


class _Link:
    """A middleware bound to the handler inside it."""

    __slots__ = ("_middleware", "_next")

    def __init__(self, middleware: MiddlewareLike, call_next: Handler) -> None:
        self._middleware = middleware
        self._next = call_next

    def __call__(self, request: LLMRequest) -> Awaitable[LLMResponse]:
        return self._middleware(request, self._next)


def _check(middleware: Any) -> None:
    """Reject what cannot be awaited, at construction rather than mid-call."""
    plain_function = inspect.isfunction(middleware) and not inspect.iscoroutinefunction(middleware)
    if not callable(middleware) or plain_function:
        raise TypeError(
            f"{middleware!r} is not a middleware: it needs "
            "'async def __call__(self, request, call_next)' (or be an async function "
            "taking (request, call_next))"
        )


class Pipeline:
    """Middlewares composed once around a transport, outermost first.

    Middlewares that manage the transport (pool recycling) may define
    ``bind(transport)``; it is called once here.
    """

    def __init__(self, middlewares: Iterable[MiddlewareLike], transport: Transport) -> None:
        self.middlewares: tuple[MiddlewareLike, ...] = tuple(middlewares)
        self.transport = transport
        handler: Handler = transport.send
        for middleware in reversed(self.middlewares):
            _check(middleware)
            bind = getattr(middleware, "bind", None)
            if callable(bind):
                bind(transport)
            handler = _Link(middleware, handler)
        self._handler = handler

    def __call__(self, request: LLMRequest) -> Awaitable[LLMResponse]:
        return self._handler(request)

    def find(self, kind: type[Any]) -> Any | None:
        """The first middleware that is an instance of ``kind``, if any."""
        return next((m for m in self.middlewares if isinstance(m, kind)), None)


class MiddlewareStack(list[MiddlewareLike]):
    """A list of middlewares with builder verbs, for editing a stack by type.

    ``default_middlewares(config)`` returns one; any plain list works as well.
    """

    def index_of(self, kind: type[Any]) -> int:
        for position, middleware in enumerate(self):
            if isinstance(middleware, kind):
                return position
        raise ValueError(f"no {kind.__name__} in this stack: {[type(m).__name__ for m in self]}")

    def insert_before(self, kind: type[Any], middleware: MiddlewareLike) -> MiddlewareStack:
        self.insert(self.index_of(kind), middleware)
        return self

    def insert_after(self, kind: type[Any], middleware: MiddlewareLike) -> MiddlewareStack:
        self.insert(self.index_of(kind) + 1, middleware)
        return self

    def replace(self, kind: type[Any], middleware: MiddlewareLike) -> MiddlewareStack:
        self[self.index_of(kind)] = middleware
        return self

    def without(self, kind: type[Any]) -> MiddlewareStack:
        del self[self.index_of(kind)]
        return self
