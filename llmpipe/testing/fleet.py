"""A fleet: several test servers, started and stopped together.

Routing is tested against replicas that differ (one slow, one down, one
over capacity), so a fleet is a list of `LLMServer`s, each built as the test
needs. `with fleet:` serves each from a thread of its own (sync tests, and
async tests whose client blocks); `async with fleet:` serves them all on the
running loop.

    fleet = Fleet.of(3, latency=lambda i: Latency.fixed(0.01 * (i + 1)))
    with fleet:
        urls = fleet.base_urls
        asyncio.run(fleet[0].go_down())
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any

from .latency import Latency
from .server import LLMServer

__all__ = ["Fleet"]


class Fleet:
    """Several `LLMServer`s as one."""

    def __init__(self, servers: Sequence[LLMServer]) -> None:
        if not servers:
            raise ValueError("a Fleet needs at least one LLMServer")
        self.servers = tuple(servers)
        self._threads: contextlib.ExitStack | None = None

    @classmethod
    def of(
        cls,
        count: int,
        *,
        latency: Latency | Callable[[int], Latency | None] | None = None,
        **settings: Any,
    ) -> Fleet:
        """``count`` servers with the same ``settings``; ``latency`` may be a function
        of the server's index (then each gets its own seed, say)."""
        servers = []
        for index in range(count):
            profile = latency(index) if callable(latency) else latency
            servers.append(LLMServer(latency=profile, **settings))
        return cls(servers)

    def __len__(self) -> int:
        return len(self.servers)

    def __getitem__(self, index: int) -> LLMServer:
        return self.servers[index]

    def __iter__(self) -> Iterator[LLMServer]:
        return iter(self.servers)

    @property
    def base_urls(self) -> list[str]:
        return [server.base_url for server in self.servers]

    def __enter__(self) -> Fleet:
        stack = contextlib.ExitStack()
        try:
            for server in self.servers:
                stack.enter_context(server.run_in_thread())
        except BaseException:
            stack.close()
            raise
        self._threads = stack
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._threads = self._threads, None
        if stack is not None:
            stack.close()

    async def __aenter__(self) -> Fleet:
        started: list[LLMServer] = []
        try:
            for server in self.servers:
                await server.start()
                started.append(server)
        except BaseException:
            for server in started:
                await server.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for server in self.servers:
            await server.stop()
