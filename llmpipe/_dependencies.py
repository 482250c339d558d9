"""Every use of a dependency's private API, in one place, each with a fallback.

=============================================  ===========================  =====================
Private API                                    Why llmpipe uses it          Checked against
=============================================  ===========================  =====================
loguru ``logger._core`` (``handlers``,         skip building log records    loguru 0.7.0 - 0.7.3
``min_level``, ``enabled``)                    when no handler takes them
aiohttp ``BaseConnector._close()``             close the sockets of a       aiohttp 3.9 - 3.14
                                               client dropped without
                                               ``close()``, with no loop
                                               running
aiohttp ``StreamReader.set_exception()``       wake a reader blocked on a   aiohttp 3.9 - 3.14
(public name, undocumented)                    stream when the client
                                               closes
asyncio ``_get_running_loop()``                "is a loop running here?"    CPython 3.11 - 3.13
                                               without raising
asyncio ``tasks._current_tasks``               a call's task in two C       CPython 3.11 - 3.13
                                               calls, not 3.11's Python
                                               ``current_task()`` (~1k
                                               instructions fewer, twice
                                               per call)
asyncio ``BaseEventLoop._run_once()``,         the sync shim runs its loop  CPython 3.11 - 3.13
``_ready``, ``_stopping``, ``_debug``; on      until a call is done, not a
3.11 ``_closed``, ``_thread_id`` and the       stop-and-restart per call
asyncgen hooks (``_run_forever_setup/          (half the loop's cost)
cleanup()`` on 3.12+)
asyncio ``Handle``'s slots, filled without     the sync shim's private      CPython 3.11 - 3.13
its ``__init__``; ``BaseEventLoop._run_once``  loop (``_shim_loop``) makes
with ``_scheduled``, ``_timer_cancelled_``     a ready callback and runs an
``count``, ``_clock_resolution``; the epoll    iteration in one frame each
selector's ``_selector``, ``_fd_to_key``;
``format_helpers._format_callback_source``
opentelemetry-api ``trace._TRACER_PROVIDER``,  "has the application set a  opentelemetry-api
``metrics._internal._METER_PROVIDER``          provider?" in one read per   1.27 - 1.45
                                               call, so an unconfigured
                                               OpenTelemetry costs nothing
aiohttp ``ClientOSError`` text "Can not write  a request that could not be  aiohttp 3.9 - 3.14
request body" (a message, not an API)          written never reached the
                                               server: resend it at once
aiohttp ``BaseConnector.connect()``            learn whether a connection   aiohttp 3.9 - 3.14
overridden (public method; arguments passed    was reused from the pool
through untouched) and ``Connection.protocol``
=============================================  ===========================  =====================

setup.cfg caps aiohttp and loguru below their next major (loguru: minor)
release, where these could change. If one disappears anyway, its fallback
keeps llmpipe correct, only slower or less eager; the tests run each
fallback.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

__all__ = [
    "close_connector_now",
    "fail_stream_reader",
    "loguru_gate",
    "otel_provider_probe",
    "run_until_done",
    "running_loop",
    "task_of",
    "write_failed",
]


def loguru_gate(logger: Any, module: str, level_no: int) -> bool | None:
    """Whether a record from ``module`` at ``level_no`` would reach a handler;
    None when loguru's internals do not say (loguru then decides, slower)."""
    core: Any = getattr(logger, "_core", None)
    try:
        if not core.handlers or level_no < core.min_level:
            return False
        return core.enabled.get(module) is not False
    except AttributeError:
        return None


def close_connector_now(connector: Any) -> None:
    """Close a connector's sockets without awaiting (no loop may be running).

    ``_close()`` starts closing every socket and returns futures that only
    report when each has finished; they are dropped on purpose (nothing can
    await them here, and a dropped future, unlike a coroutine, warns
    nothing). Without ``_close`` the sockets close when they are collected.
    """
    close = getattr(connector, "_close", None)
    if callable(close) and not connector.closed:
        close()


def fail_stream_reader(reader: Any, error: BaseException) -> None:
    """Make a blocked ``reader.readany()`` raise ``error`` now; without
    ``set_exception`` it sees the end of the body (a truncated stream)."""
    fail = getattr(reader, "set_exception", None)
    if callable(fail):
        fail(error)
    else:
        reader.feed_eof()


def write_failed(error: BaseException) -> bool:
    """Whether aiohttp raised ``error`` because the request could not be written;
    if its wording changes, False: such a request then counts as a retry."""
    return "Can not write request body" in str(error)


def _public_running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


running_loop: Callable[[], asyncio.AbstractEventLoop | None] = getattr(
    asyncio, "_get_running_loop", _public_running_loop
)
"""The loop running in this thread, or None; never raises (asyncio's own C
function where it has one: no Python frame of ours on the sync shim's path)."""


def _task_reader() -> Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None]:
    """``_current_tasks.get`` where ``asyncio.current_task`` is the Python function
    that reads that dict (CPython 3.11); else ``asyncio.current_task`` itself (C
    from 3.12; 3.14 keeps the task elsewhere, where the dict would answer None)."""
    tasks = getattr(asyncio.tasks, "_current_tasks", None)
    current = asyncio.current_task
    if type(tasks) is dict and isinstance(current, types.FunctionType):
        return tasks.get
    return current


task_of = _task_reader()
"""``asyncio.current_task(loop)``: the task ``loop`` is running. Called as
``task_of(asyncio.get_running_loop())`` (two C functions), it answers as
``asyncio.current_task()`` does, without 3.11's Python frame (~1,000
instructions, twice per call: the client's and the transport's)."""


def run_until_done(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> None:
    """``loop.run_until_complete(future)`` for a task or future of ``loop``, cheaper
    (``loop_runner(loop)(future)``; a driver that runs one loop often keeps the runner)."""
    loop_runner(loop)(future)


def loop_runner(loop: asyncio.AbstractEventLoop) -> Callable[[asyncio.Future[Any]], None]:
    """A function that runs ``loop`` until a future of it is done, cheaper than
    ``run_until_complete``.

    ``run_until_complete`` adds a callback that stops the loop and runs one
    more iteration (a poll of the selector) for it: in a short call, that is
    as much as the loop's own work. On asyncio's loop the runner runs
    iterations until ``future`` is done, then, without a poll, the callbacks
    ready at that point (what the call's end scheduled: a connection's
    close); a pass without a poll is an iteration whose poll found nothing,
    and the next run's first poll finds what this one would have.

    The first iteration polls too, as it must. An iteration polls, then
    runs the callbacks ready before the poll (the call's first step), then
    those the poll added: the call's first step comes before them, but it
    only starts aiohttp's request writer, a task of its own whose first
    step, in the next iteration, comes after them. A pooled
    connection the server reset while no loop ran is thus seen reset before
    the request is written on it, and the request, known unsent ("Can not
    write request body"), is sent again on a fresh connection. Running the
    first step without that poll lets the write go first, and the reset
    then looks like a failure after sending (``test_transport_fresh``).
    Setup and cleanup are ``run_forever``'s, written out on CPython 3.11,
    which has no methods for them: a sync call pays for every Python call.

    On any other loop (uvloop), or in debug mode (checked per run:
    ``_debug``, what ``get_debug()`` returns, without its call), it is
    ``run_until_complete``.
    """
    run_once = getattr(loop, "_run_once", None)
    ready = getattr(loop, "_ready", None)
    if run_once is None or ready is None or not isinstance(loop, asyncio.BaseEventLoop):
        return loop.run_until_complete
    state: Any = loop  # the private attributes below
    setup: Any = getattr(loop, "_run_forever_setup", None)  # CPython 3.12+
    cleanup: Any = getattr(loop, "_run_forever_cleanup", None)
    inline = setup is None or cleanup is None  # CPython 3.11: run_forever's own, written out
    set_running_loop = asyncio.events._set_running_loop
    get_hooks, set_hooks = sys.get_asyncgen_hooks, sys.set_asyncgen_hooks
    hooks = (state._asyncgen_firstiter_hook, state._asyncgen_finalizer_hook)
    get_ident = threading.get_ident

    def run(future: asyncio.Future[Any]) -> None:
        if state._debug:
            loop.run_until_complete(future)
            return
        if inline:  # as run_forever: check the loop, install its asyncgen hooks, mark it running
            if state._closed:
                raise RuntimeError("Event loop is closed")
            if state._thread_id is not None:
                raise RuntimeError("This event loop is already running")
            if running_loop() is not None:
                raise RuntimeError("Cannot run the event loop while another loop is running")
            replaced = get_hooks()
            state._thread_id = get_ident()
            set_hooks(*hooks)  # by position: set_asyncgen_hooks parses keywords at twice the cost
            set_running_loop(loop)
        else:
            setup()
        try:
            while not future.done() and not state._stopping:  # stop(): give back control
                run_once()
            if ready and not state._stopping:  # what the call's end scheduled (a close)
                for _ in range(len(ready)):
                    handle = ready.popleft()
                    if not handle._cancelled:
                        handle._run()
        finally:
            if inline:  # and undo it, giving back the thread's hooks
                state._stopping = False
                state._thread_id = None
                set_running_loop(None)
                set_hooks(*replaced)
            else:
                cleanup()
        if not future.done():
            raise RuntimeError("Event loop stopped before Future completed.")

    return run


def otel_provider_probe() -> Callable[[], bool]:
    """A test of whether the application has set a global tracer or meter
    provider yet (OpenTelemetry lets each be set once, never unset).

    Reads the two module globals the API keeps them in, after asking for
    both once (which loads a provider named by ``OTEL_PYTHON_*_PROVIDER``).
    Without those globals it answers "set" always: telemetry then runs on
    the API's proxies, correct but no longer free when unconfigured.
    """
    trace = importlib.import_module("opentelemetry.trace")
    metrics = importlib.import_module("opentelemetry.metrics")
    try:
        metrics_state = importlib.import_module("opentelemetry.metrics._internal")
    except ImportError:
        return _always
    if not (hasattr(trace, "_TRACER_PROVIDER") and hasattr(metrics_state, "_METER_PROVIDER")):
        return _always
    trace.get_tracer_provider()
    metrics.get_meter_provider()

    def probe() -> bool:
        return trace._TRACER_PROVIDER is not None or metrics_state._METER_PROVIDER is not None

    return probe


def _always() -> bool:
    return True
