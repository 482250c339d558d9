"""Re-sending, on a fresh connection, a request that never reached the server.

Servers close keep-alive connections after a few idle seconds (uvicorn's
default is 5), and the client learns of it only when it writes the next
request on one. Such a request was never processed, so it is sent again at
once, as Go's net/http does for replayable requests; it is not a retry of
the call and does not count as one, whatever ``max_retries`` says.

"Never reached" means, on a connection reused from the pool: the request
could not be written, or, for a replayable request (an idempotent method, or
one carrying the idempotency key llmpipe adds), the connection was closed
or reset before any byte of a reply (aiohttp says whether reply bytes came
before a close, not before a reset; a reset part-way through a reply on a
reused connection is taken as never reached too). A fresh connection that
fails is the server's doing, and the ordinary retry rules apply.

Whether a connection was reused is learnt in the connector, the one place
that knows: ``connect`` is overridden to compare the protocol it returns with
those it returned before, and tells the attempt through a context variable,
which then says whether the task's latest ``connect`` reused a connection
(False if that ``connect`` failed); ``never_reached`` reads it in the same
task. It is set only when its value changes, and its default is True, the
usual answer: a task sending call after call on pooled connections sets it
once, and the sync shim's call, a new task in a new copy of the caller's
context, sets it never (each set builds a new context mapping and a token:
~3.7k instructions and GC-tracked objects held by every call in flight). A
failure before ``connect`` (aiohttp building the request) reads the previous
attempt's value or the default, but no such failure is a disconnect or a
socket error, the only ones taken as never reached.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from llmpipe._dependencies import task_of, write_failed
from llmpipe.transport._reads import read_in_heap_pieces

if TYPE_CHECKING:
    import aiohttp

__all__ = ["Turn", "connector_class", "never_reached", "start_attempt"]

Turn = Callable[[], Awaitable[None]]
"""A queued call's wait for its place in the pool, awaited in the connector."""

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})

# Whether the current task's latest connect() got a pooled connection. A bool, not
# an object per attempt: set (not mutated) where it changes, it stays with the task.
# True by default: most connects reuse one, and then a new context never sets it.
_reused: contextvars.ContextVar[bool] = contextvars.ContextVar("llmpipe_reused", default=True)


def start_attempt() -> None:
    """A try at sending begins in this task: it has no connection yet (the transport
    leaves this to ``connect``; kept for tests/benchmarks/aiohttp_variants.py)."""
    _reused.set(False)


C = TypeVar("C", bound="aiohttp.BaseConnector")
_classes: dict[type[Any], type[Any]] = {}


def connector_class(base: type[C]) -> type[C]:
    """``base`` (TCPConnector, UnixConnector), telling each attempt if it reused a connection."""
    tracking: type[C] | None = _classes.get(base)
    if tracking is None:
        tracking = _classes[base] = type(
            f"Tracking{base.__name__}", (_TracksReuse, base), {"__module__": __name__}
        )
    return tracking


class _TracksReuse:
    """Mixed into a connector: remembers the protocols it has handed out, and sets
    each new connection's read size (``_reads``).

    By ``id``, each entry dropped when its protocol is collected (so an ``id``
    is never taken for another's): a dict lookup, where a WeakSet's ``in`` is
    a Python call making a weak reference.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._handed_out: dict[int, weakref.ref[Any]] = {}
        self.turns: dict[asyncio.Task[Any], Turn] = {}
        """Calls sent before the pool had room for them: each waits here for its turn."""

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:  # noqa: ASYNC109
        """aiohttp's ``BaseConnector.connect`` (same signature since aiohttp 3.0, named
        rather than ``*args, **kwargs``: no tuple and dict built per call; aiohttp
        passes ``timeout`` by that name)."""
        try:
            if self.turns:  # the wait for a place in the pool (aiohttp.py's _Queued)
                turn = self.turns.pop(task_of(asyncio.get_running_loop()), None)  # type: ignore[arg-type]
                if turn is not None:
                    await turn()
            connection = await super().connect(req, traces, timeout)  # type: ignore[misc]
        except BaseException:
            if _reused.get():
                _reused.set(False)
            raise
        protocol = getattr(connection, "protocol", None)
        key = id(protocol)
        if protocol is None:  # not aiohttp's Connection as known: nothing counts as reused
            reused = False
        elif key in self._handed_out:
            reused = True
        else:
            reused = False
            self._handed_out[key] = weakref.ref(protocol, _forget(self._handed_out, key))
            read_in_heap_pieces(protocol.transport)
        if _reused.get() is not reused:
            _reused.set(reused)
        return connection


def _forget(handed_out: dict[int, weakref.ref[Any]], key: int) -> Any:
    def forget(_: weakref.ref[Any]) -> None:
        handed_out.pop(key, None)

    return forget


def never_reached(exc: BaseException, replayable: bool) -> bool:
    """Whether the failed attempt of this task provably left the server untouched
    (see above)."""
    if not _reused.get():
        return False
    import aiohttp

    if isinstance(exc, aiohttp.ServerDisconnectedError):
        # aiohttp's message is a partly parsed reply once any reply byte arrived
        return replayable and isinstance(exc.message, str)
    if isinstance(exc, aiohttp.ClientOSError) and not isinstance(exc, aiohttp.ClientConnectorError):
        return replayable or write_failed(exc)
    return False
