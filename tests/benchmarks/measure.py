"""What a client process reads about itself: CPU time and memory.

CPU is user+sys of the whole process (every thread: the sync shim's loop
thread counts), from ``getrusage``; memory is the resident set, now (from
/proc) or at its peak (``ru_maxrss``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource

__all__ = ["RssSampler", "cpu_seconds", "current_rss_bytes", "peak_rss_bytes"]

_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def current_rss_bytes() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE


class RssSampler:
    """Samples the resident set every ``interval`` seconds on the running loop; keeps the max."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        self.peak = max(self.peak, current_rss_bytes())
        self.samples += 1

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self.sample()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
