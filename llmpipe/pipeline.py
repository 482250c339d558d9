"""The middleware contract and the Pipeline that composes it once.

A middleware is an object with the shape of ``Middleware`` (or a plain async
function of ``(request, call_next)``)::

    async def __call__(self, request: LLMRequest, call_next: Handler) -> LLMResponse

A plain ``def __call__`` that returns an awaitable works too: a layer with
nothing to do for a call can return ``call_next(request)`` itself, and so
costs the call no coroutine of its own.

The first middleware listed is the outermost layer of the onion: it sees the
call first and the result last. ``Pipeline`` binds the chain at construction,
so a call walks pre-built links, never the list. Below the innermost
middleware, the pipeline reads a streamed reply's bytes into an
``EventStream``, so every layer sees events and the transport moves bytes only.

Each layer costs a call two Python calls: its link, then its ``__call__``.
A ``Middleware`` may define ``wrap(call_next) -> Handler`` to cost one: the
pipeline then asks it once, at construction (after ``bind``), for a handler
that is the layer composed with ``call_next``, and calls that handler in
place of the link. It must answer each request as ``layer(request,
call_next)`` does (the layer still works outside a pipeline); returning
``call_next`` itself takes the layer out of the chain. It is meant for
layers that most often only pass a call on, such as OpenTelemetry's with no
provider configured, and for the default layers, which every call crosses.
A subclass that overrides ``__call__`` but not ``wrap`` is called as it is
written: a ``wrap`` answers only for the ``__call__`` of its own class or of
a base class.
"""

from __future__ import annotations

import asyncio
import inspect
import types
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

from llmpipe.errors import api_error_from
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.streaming.events import open_event_stream
from llmpipe.transport.base import Transport

__all__ = ["Handler", "Middleware", "MiddlewareLike", "MiddlewareStack", "Pipeline"]

Handler = Callable[[LLMRequest], Awaitable[LLMResponse]]
T = TypeVar("T")


@runtime_checkable
class Middleware(Protocol):
    """One layer of the onion, with its two lifecycle hooks.

    Subclass it to inherit the hooks' defaults (they do nothing) and override
    what a layer needs: ``bind`` to hold the transport (a pool manager),
    ``close`` to release what the layer owns (a Redis connection, a file).

    Optional, and not a member of the protocol (a layer without it is still
    one): ``wrap(call_next) -> Handler``, the layer composed once with the
    handler inside it, which the pipeline calls instead of ``__call__``; see
    the module's docstring.
    """

    def __call__(self, request: LLMRequest, call_next: Handler) -> Awaitable[LLMResponse]: ...

    def bind(self, transport: Transport) -> None:
        """Called once, when the pipeline is built, with its transport."""
        return None

    async def close(self) -> None:
        """Called once, by the client's ``close()``, before the transport closes."""
        return None


MiddlewareLike = Middleware | Callable[[LLMRequest, Handler], Awaitable[LLMResponse]]


class _Link:
    """A middleware bound to the handler inside it.

    Both are kept as bound methods where they are objects: the interpreter
    calls a bound method of a Python function in line, while calling an
    object runs its ``__call__`` through C, about 1,000 instructions more per
    layer, per call.
    """

    __slots__ = ("_middleware", "_next")

    def __init__(self, middleware: MiddlewareLike, call_next: Handler) -> None:
        self._middleware = _direct(middleware)
        self._next = _direct(call_next)

    def __call__(self, request: LLMRequest) -> Awaitable[LLMResponse]:
        return self._middleware(request, self._next)


def _direct(handler: T) -> T:
    """``handler.__call__`` when it is an object whose ``__call__`` is a Python
    function (a bound method, called in line), else ``handler`` itself."""
    call = inspect.getattr_static(type(handler), "__call__", None)
    if isinstance(call, types.FunctionType) and not isinstance(handler, type):
        return cast(T, types.MethodType(call, handler))
    return handler


class _ReadEvents:
    """The innermost link: a streamed reply's bytes become an ``EventStream``."""

    __slots__ = ("_send",)

    def __init__(self, send: Handler) -> None:
        self._send = send

    def __call__(self, request: LLMRequest) -> Awaitable[LLMResponse]:
        if not request.stream:
            return self._send(request)  # a plain call: no extra await on the hot path
        return self._streamed(request)

    async def _streamed(self, request: LLMRequest) -> LLMResponse:
        loop = asyncio.get_running_loop()  # once: on CPython 3.11 it asks the kernel for the pid
        started = loop.time()
        return await open_event_stream(await self._send(request), started, loop)


def _hooked(middleware: Any) -> bool:
    """Whether ``middleware`` takes part in the lifecycle (``bind``/``close``).

    Rejected at construction rather than mid-call: what cannot be awaited, and
    a layer with only one of the hooks (its ``close`` would never run).
    """
    plain_function = inspect.isfunction(middleware) and not inspect.iscoroutinefunction(middleware)
    if not callable(middleware) or plain_function:
        raise TypeError(
            f"{middleware!r} is not a middleware: it needs "
            "'async def __call__(self, request, call_next)' (or be an async function "
            "taking (request, call_next))"
        )
    if isinstance(middleware, Middleware):
        return True
    partial = [hook for hook in ("bind", "close") if hasattr(middleware, hook)]
    if partial:
        raise TypeError(
            f"{type(middleware).__name__} defines {partial[0]}() but not the other hook; "
            "subclass llmpipe.Middleware so the pipeline calls its hooks"
        )
    return False


def _wrap_of(middleware: Middleware) -> Callable[[Handler], Handler] | None:
    """The layer's ``wrap``, unless a class below the one that defines it
    overrides ``__call__`` (that override is what the layer does).

    Only the classes are searched: reading the instance's ``__dict__`` would
    make the interpreter build it, and every attribute access of the layer's
    calls would then take the slow path (about 3k instructions per call for
    ``CountingMiddleware``).
    """
    wrap: Callable[[Handler], Handler] | None = getattr(middleware, "wrap", None)
    owners = [vars(cls) for cls in type(middleware).__mro__]
    if wrap is None or not any("wrap" in owner for owner in owners):
        return wrap  # none, or the instance's own
    for owner in owners:
        if "wrap" in owner:
            break
        if "__call__" in owner:
            return None
    return wrap


class Pipeline:
    """Middlewares composed once around a transport, outermost first."""

    def __init__(self, middlewares: Iterable[MiddlewareLike], transport: Transport) -> None:
        self.middlewares: tuple[MiddlewareLike, ...] = tuple(middlewares)
        self.transport = transport
        hooked: list[Middleware] = []
        innermost = _ReadEvents(transport.send)
        handler: Handler = innermost
        for middleware in reversed(self.middlewares):
            wrap: Callable[[Handler], Handler] | None = None
            if _hooked(middleware):
                assert isinstance(middleware, Middleware)
                middleware.bind(transport)
                hooked.append(middleware)
                wrap = _wrap_of(middleware)
            handler = _Link(middleware, handler) if wrap is None else wrap(_direct(handler))
        self._hooked = tuple(reversed(hooked))
        self._handler = _direct(handler)
        passed_on = getattr(self._handler, "__self__", None) is innermost
        self.plain: Handler = transport.send if passed_on else self._handler
        """The chain for a request that is not streamed. Without middlewares (or
        when every layer's ``wrap`` left the chain) it is the transport's ``send``
        itself, which is what ``_ReadEvents`` calls for such a request: the
        client's every plain call skips two calls."""

    def __call__(self, request: LLMRequest) -> Awaitable[LLMResponse]:
        """Run the chain: the reply whatever its status (a handler, for composing)."""
        return self._handler(request)

    async def send(self, request: LLMRequest) -> LLMResponse:
        """Run the chain; a non-2xx reply that no layer turned into an error
        (a stack without ``ClassifyErrorsMiddleware``) is raised here."""
        response = await self._handler(request)
        if response.status >= 300:
            raise api_error_from(response)
        return response

    async def close(self) -> None:
        """Close each middleware, outermost first; every one runs even if one fails."""
        errors: list[BaseException] = []
        for middleware in self._hooked:
            try:
                await middleware.close()
            except Exception as error:
                errors.append(error)
        if errors:
            raise errors[0]

    def find(self, kind: type[T]) -> T | None:
        """The first middleware that is a ``kind`` (a class or a runtime protocol)."""
        found: Any = next((m for m in self.middlewares if isinstance(m, kind)), None)
        return cast(T | None, found)


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
