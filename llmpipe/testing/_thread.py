"""Running a server on an event loop of its own, in a daemon thread.

Sync tests have no loop to serve from, and an async test's loop is blocked
whenever the code under test makes a blocking call; a server on its own
loop answers in both cases, whatever loop (if any) the client uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["ServerThread"]

# How long to wait for the server to start or stop before giving up loudly.
_TIMEOUT = 30.0

Serve = Callable[[Callable[[str], None]], Coroutine[Any, Any, None]]


class ServerThread:
    """Runs `serve(ready)` (e.g. `LLMServer.serve_forever`) until `stop`."""

    def __init__(self, serve: Serve) -> None:
        self._serve = serve
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="llmpipe-test-server", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._error: Exception | None = None

    def start(self) -> None:
        """Start the thread; return once the server listens, or raise why it could not."""
        self._thread.start()
        if not self._ready.wait(_TIMEOUT):
            self.stop()
            raise RuntimeError("the test server did not start in time")
        if self._error is not None:
            self._thread.join()
            raise self._error

    def stop(self) -> None:
        """Stop the server and wait for its thread to end."""
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            # RuntimeError: the loop closed in the meantime, so nothing is left to stop.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
        self._thread.join(_TIMEOUT)
        if self._thread.is_alive():
            raise RuntimeError("the test server did not stop in time")

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        try:
            await self._serve(lambda _base_url: self._ready.set())
        except asyncio.CancelledError:
            pass  # how stop() ends the server: serve() has already shut it down
        except Exception as exc:  # handed to the starting thread, raised there
            self._error = exc
        finally:
            self._ready.set()
