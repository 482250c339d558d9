"""The sync shim's private event loop: asyncio's selector loop, cheaper per call.

The shim owns its loop, so it may choose it (uvloop is ruled out on the main
thread: see ``_loop_driver``). A sync call runs about four iterations of the
loop and makes five ready callbacks; asyncio's selector loop spends a Python
frame on each step of both (``call_soon``, ``_check_closed``, ``_call_soon``,
``Handle.__init__``; ``_run_once``, ``selector.select``,
``_process_events``, ``_add_callback``, ``Handle._run``). This loop does the
same work in fewer frames. It must stay equal to asyncio's: the same
handles, the same order of callbacks, timers and I/O events, the same
timeouts given to ``epoll_wait``, the same reports of a failing callback;
``tests/test_shim_loop.py`` holds it to that. In debug mode, on a closed
loop, or where asyncio's internals are not those known here (the table in
``_dependencies``), asyncio's own code runs.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import heapq
import math
import operator
import select
import selectors
import sys
import time
from asyncio import base_events, format_helpers
from collections.abc import Callable
from typing import Any

__all__ = ["new_shim_loop"]

_HANDLE_SLOTS = (
    "_callback", "_args", "_cancelled", "_loop", "_source_traceback", "_repr", "__weakref__",
    "_context",
)  # fmt: skip


def new_shim_loop() -> asyncio.AbstractEventLoop:
    """A new loop for the sync shim: what ``asyncio.new_event_loop()`` gives,
    cheaper where that is asyncio's selector loop on epoll.

    Where the loop would not be asyncio's selector loop (an event loop policy
    set, Windows) or ``Handle``'s slots differ from those known, it is
    ``asyncio.new_event_loop()``'s, untouched.
    """
    policy = asyncio.get_event_loop_policy()
    if (
        type(policy) is not asyncio.DefaultEventLoopPolicy
        or sys.platform == "win32"
        or getattr(asyncio.Handle, "__slots__", None) != _HANDLE_SLOTS
    ):
        return asyncio.new_event_loop()
    return _ShimLoop()


_new_handle = object.__new__
_debug_of = operator.attrgetter("_debug")
_copy_context = contextvars.copy_context
_heappop = heapq.heappop
_monotonic = time.monotonic
_ceil = math.ceil
_READ, _WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
_NOT_IN, _NOT_OUT = ~select.EPOLLIN, ~select.EPOLLOUT
# asyncio's own thresholds: above them, _run_once rebuilds the timer heap
_MIN_SCHEDULED = getattr(base_events, "_MIN_SCHEDULED_TIMER_HANDLES", 100)
_CANCELLED_FRACTION = getattr(base_events, "_MIN_CANCELLED_TIMER_HANDLES_FRACTION", 0.5)
_MAX_TIMEOUT = getattr(base_events, "MAXIMUM_SELECT_TIMEOUT", 24 * 3600)


class _ShimLoop(asyncio.SelectorEventLoop):
    """asyncio's selector loop with ``call_soon`` and ``_run_once`` each in one
    frame, and ``time()`` and ``get_debug()`` in none (``new_shim_loop``)."""

    time = staticmethod(time.monotonic)  # asyncio's returns time.monotonic()

    def __init__(self) -> None:
        super().__init__()
        # What get_debug() returns, read in C: every Future and Task asks it when made
        self.get_debug = functools.partial(_debug_of, self)  # type: ignore[method-assign]
        state: Any = self
        selector = state._selector
        # epoll as selectors' EpollSelector wraps it, and asyncio's timer heap as known
        self._own_poll = (
            type(selector) is getattr(selectors, "EpollSelector", None)
            and type(getattr(selector, "_fd_to_key", None)) is dict
            and type(getattr(self, "_scheduled", None)) is list
            and hasattr(self, "_clock_resolution")
        )

    def call_soon(  # type: ignore[override]
        self, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.Handle:
        """``BaseEventLoop.call_soon``: the same ``Handle``, filled in one frame."""
        state: Any = self
        if state._debug or state._closed:  # asyncio's own checks, errors and tracebacks
            return super().call_soon(callback, *args, context=context)
        handle: Any = _new_handle(asyncio.Handle)
        handle._callback = callback
        handle._args = args
        handle._cancelled = False
        handle._loop = self
        handle._source_traceback = None
        handle._repr = None
        handle._context = _copy_context() if context is None else context
        state._ready.append(handle)
        result: asyncio.Handle = handle
        return result

    def _run_once(self) -> None:
        """``BaseEventLoop._run_once`` with ``EpollSelector.select``,
        ``_process_events`` and ``Handle._run`` written into it: the same
        steps, in the same order, with the same timeout for the poll."""
        state: Any = self
        scheduled = state._scheduled
        if state._debug or not self._own_poll:
            super()._run_once()  # type: ignore[misc]
            return
        if scheduled:
            count = len(scheduled)
            cancelled = state._timer_cancelled_count
            if count > _MIN_SCHEDULED and cancelled / count > _CANCELLED_FRACTION:
                super()._run_once()  # type: ignore[misc]  # asyncio rebuilds its heap
                return
            while scheduled and scheduled[0]._cancelled:  # cancelled timers at the head
                state._timer_cancelled_count -= 1
                _heappop(scheduled)._scheduled = False
        ready = state._ready
        if ready or state._stopping:
            timeout: float = 0
        elif scheduled:
            timeout = min(max(0, scheduled[0]._when - _monotonic()), _MAX_TIMEOUT)
            if timeout > 0:  # epoll counts milliseconds: wait at least ``timeout``
                timeout = _ceil(timeout * 1e3) * 1e-3
        else:
            timeout = -1
        selector = state._selector
        fd_to_key = selector._fd_to_key
        try:
            polled = selector._selector.poll(timeout, len(fd_to_key) or 1)
        except InterruptedError:
            polled = ()
        for fd, event in polled:
            key = fd_to_key.get(fd)
            if key is None:
                continue
            mask = (_WRITE if event & _NOT_IN else 0) | (_READ if event & _NOT_OUT else 0)
            mask &= key.events
            reader, writer = key.data
            if mask & _READ and reader is not None:
                if reader._cancelled:
                    state._remove_reader(key.fileobj)
                else:
                    ready.append(reader)
            if mask & _WRITE and writer is not None:
                if writer._cancelled:
                    state._remove_writer(key.fileobj)
                else:
                    ready.append(writer)
        if scheduled:  # timers due now (within the clock's resolution)
            end_time = _monotonic() + state._clock_resolution
            while scheduled and scheduled[0]._when < end_time:
                handle = _heappop(scheduled)
                handle._scheduled = False
                ready.append(handle)
        for _ in range(len(ready)):  # only what is ready now: the rest waits for a poll
            handle = ready.popleft()
            if handle._cancelled:
                continue
            try:
                handle._context.run(handle._callback, *handle._args)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                _report(handle, exc)
        handle = None  # no cycle through a failed callback's traceback


def _report(handle: Any, exc: BaseException) -> None:
    """What ``Handle._run`` reports when its callback raises."""
    source = format_helpers._format_callback_source(handle._callback, handle._args)
    context: dict[str, Any] = {
        "message": f"Exception in callback {source}",
        "exception": exc,
        "handle": handle,
    }
    if handle._source_traceback:
        context["source_traceback"] = handle._source_traceback
    handle._loop.call_exception_handler(context)
