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
    iterations until ``future`` is done, and one more only if callbacks are
    ready then (a cancelled call's connection close). The first iteration
    polls the selector before the call's first step, as it must: a pooled
    connection the server closed while no loop ran is then seen closed
    before the call picks it. On any other loop (uvloop), or in debug mode
    (checked per run: ``_debug``, what ``get_debug()`` returns, without its
    call), it is ``run_until_complete``.
    """
    run_once = getattr(loop, "_run_once", None)
    ready = getattr(loop, "_ready", None)
    if run_once is None or ready is None or not isinstance(loop, asyncio.BaseEventLoop):
        return loop.run_until_complete
    state: Any = loop  # the private attributes below
    setup = getattr(loop, "_run_forever_setup", None)
    cleanup = getattr(loop, "_run_forever_cleanup", None)
    if setup is None or cleanup is None:  # CPython 3.11
        setup, cleanup = _hooks_311(loop)

    def run(future: asyncio.Future[Any]) -> None:
        if state._debug:
            loop.run_until_complete(future)
            return
        setup()
        try:
            while not future.done():
                run_once()
                if state._stopping:  # stop() from a callback: as run_forever, give back control
                    break
            else:
                if ready:  # what the call's end scheduled (a connection's close): run it now
                    run_once()
        finally:
            cleanup()
        if not future.done():
            raise RuntimeError("Event loop stopped before Future completed.")

    return run


def _hooks_311(loop: Any) -> tuple[Callable[[], None], Callable[[], None]]:
    """What ``BaseEventLoop.run_forever`` of CPython 3.11 does before and after
    its iterations, as two functions (the asyncgen hooks that ``setup``
    replaces are given back by ``cleanup``). The hooks are passed by position:
    ``sys.set_asyncgen_hooks`` parses keywords at twice the cost."""
    set_running_loop = asyncio.events._set_running_loop
    get_hooks, set_hooks = sys.get_asyncgen_hooks, sys.set_asyncgen_hooks
    firstiter, finalizer = loop._asyncgen_firstiter_hook, loop._asyncgen_finalizer_hook
    get_ident = threading.get_ident
    replaced: list[Any] = [None]

    def setup() -> None:
        if loop._closed:
            raise RuntimeError("Event loop is closed")
        if loop._thread_id is not None:
            raise RuntimeError("This event loop is already running")
        if running_loop() is not None:
            raise RuntimeError("Cannot run the event loop while another loop is running")
        replaced[0] = get_hooks()
        loop._thread_id = get_ident()
        set_hooks(firstiter, finalizer)
        set_running_loop(loop)

    def cleanup() -> None:
        loop._stopping = False
        loop._thread_id = None
        set_running_loop(None)
        set_hooks(*replaced[0])

    return setup, cleanup


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
