"""``llmpipe serve``: the bundled test server, until Ctrl-C or SIGTERM.

A port that cannot be bound is the usual failure; it is reported in one
line that says how to fix it, not as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmpipe.testing import LLMServer

__all__ = ["READY_LINE", "ServeError", "serve"]

# examples/run_all.py and the tests wait for this exact line: change them together.
READY_LINE = "llmpipe test server listening on {base_url}"


class ServeError(Exception):
    """The server could not start, for a reason the user can fix (message says how)."""


def serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM; both are a normal, clean stop (exit 0)."""
    from llmpipe.testing import LLMServer  # only `serve` needs aiohttp's server side

    server = LLMServer(args.host, args.port, api_key=args.server_api_key)
    # KeyboardInterrupt: Ctrl-C came before the signal handlers were in place.
    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(_serve_until_signalled(server))
        except OSError as error:
            raise ServeError(_bind_failure(error, args.host, args.port)) from error
    return 0


def _bind_failure(error: OSError, host: str, port: int) -> str:
    if error.errno == errno.EADDRINUSE:
        return (
            f"port {port} is already in use on {host}: pick another with --port N "
            "(--port 0 picks a free one), or stop the process using it"
        )
    if error.errno == errno.EACCES:
        return (
            f"not allowed to listen on port {port} (ports below 1024 need privileges): "
            "pick another with --port N"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: no such address on this machine; check --host"
    return f"cannot listen on {host}:{port}: {error.strerror or error}"


async def _serve_until_signalled(server: LLMServer) -> None:
    loop = asyncio.get_running_loop()
    serving = asyncio.ensure_future(server.serve_forever(ready=_announce))
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, serving.cancel)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not main thread
            continue
        installed.append(signum)
    try:
        await serving
    except asyncio.CancelledError:
        if not serving.cancelled():
            raise
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def _announce(base_url: str) -> None:
    print(READY_LINE.format(base_url=base_url), flush=True)
