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
asyncio ``BaseEventLoop._run_once()``,         the sync shim runs its loop  CPython 3.11 - 3.13
``_thread_id``, ``_stopping``, the asyncgen    until a call is done, not a
hooks (``_run_forever_setup/cleanup()`` on     stop-and-restart per call
3.12+)                                         (half the loop's cost)
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
from collections.abc import Callable
from typing import Any

__all__ = [
    "close_connector_now",
    "fail_stream_reader",
    "loguru_gate",
    "otel_provider_probe",
    "run_until_done",
    "running_loop",
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


_private_running_loop = getattr(asyncio, "_get_running_loop", None)


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The loop running in this thread, or None; never raises."""
    if _private_running_loop is not None:
        loop: asyncio.AbstractEventLoop | None = _private_running_loop()
        return loop
    return _public_running_loop()


def run_until_done(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> None:
    """``loop.run_until_complete(future)`` for a task or future of ``loop``, cheaper.

    ``run_until_complete`` adds a callback that stops the loop and runs one
    more iteration (a poll of the selector) for it: in a short call, that is
    as much as the loop's own work. On asyncio's loop this runs iterations
    until ``future`` is done, and one more only if callbacks are ready then
    (a cancelled call's connection close); on any other loop (uvloop), or in
    debug mode, it is ``run_until_complete``.
    """
    run_once = getattr(loop, "_run_once", None)
    if run_once is None or not isinstance(loop, asyncio.BaseEventLoop) or loop.get_debug():
        loop.run_until_complete(future)
        return
    state: Any = loop  # the private attributes below
    setup = getattr(loop, "_run_forever_setup", None)
    cleanup = getattr(loop, "_run_forever_cleanup", None)
    if setup is not None and cleanup is not None:  # CPython 3.12+
        setup()
    else:
        cleanup = _run_forever_setup_311(loop)
    try:
        while not future.done():
            run_once()
            if state._stopping:  # stop() from a callback: as run_forever, give back control
                break
        else:
            if state._ready:  # what the call's end scheduled (a connection's close): run it now
                run_once()
    finally:
        cleanup()
    if not future.done():
        raise RuntimeError("Event loop stopped before Future completed.")


def _run_forever_setup_311(loop: Any) -> Callable[[], None]:
    """What ``BaseEventLoop.run_forever`` of CPython 3.11 does around its iterations."""
    if loop.is_closed():
        raise RuntimeError("Event loop is closed")
    if loop.is_running():
        raise RuntimeError("This event loop is already running")
    if running_loop() is not None:
        raise RuntimeError("Cannot run the event loop while another loop is running")
    hooks = sys.get_asyncgen_hooks()
    loop._thread_id = threading.get_ident()
    sys.set_asyncgen_hooks(
        firstiter=loop._asyncgen_firstiter_hook, finalizer=loop._asyncgen_finalizer_hook
    )
    asyncio.events._set_running_loop(loop)

    def cleanup() -> None:
        loop._stopping = False
        loop._thread_id = None
        asyncio.events._set_running_loop(None)
        sys.set_asyncgen_hooks(*hooks)

    return cleanup


def _public_running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


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
