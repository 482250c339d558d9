"""What one run measures: the cases, and how long each sample runs (quick or full).

A case is one (benchmark, client, concurrency); a sample is one client
process measuring it. Figures compare cases of the same benchmark and
concurrency with the floor, raw aiohttp.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ASYNC_CHAT_CLIENTS",
    "CONCURRENCY",
    "FLOOR",
    "FULL",
    "HOLD_CLIENTS",
    "IMPORTS",
    "QUICK",
    "STREAM_CLIENTS",
    "SYNC_CHAT_CLIENTS",
    "Case",
    "Settings",
    "cases",
]

FLOOR = "raw"
CONCURRENCY = (1, 64, 256)
ASYNC_CHAT_CLIENTS = ("raw", "llmpipe", "llmpipe-empty", "openai", "openai-aiohttp")
SYNC_CHAT_CLIENTS = ("llmpipe-sync", "requests", "openai-sync")  # sequential: concurrency 1
STREAM_CLIENTS = ("raw", "llmpipe", "openai", "openai-aiohttp")
HOLD_CLIENTS = ("raw", "llmpipe", "openai", "openai-aiohttp")
# Modules whose import is timed; the first is the floor.
IMPORTS = ("aiohttp", "llmpipe", "openai")


@dataclass(frozen=True, order=True)
class Case:
    bench: str  # "chat", "stream" or "hold"
    concurrency: int
    client: str

    def __str__(self) -> str:
        where = f" c={self.concurrency}" if self.bench == "chat" else ""
        return f"{self.bench}{where} {self.client}"


@dataclass(frozen=True)
class Settings:
    """How much work a run does. Every figure is the median over ``reps`` samples."""

    name: str
    reps: int
    seconds: float  # timed loop of one chat or stream sample
    max_requests: int  # and at most this many calls in it
    warmup: int  # warm-up calls (at least 2 x concurrency, so every connection opens)
    stream_warmup: int
    hold_requests: int  # requests in flight at once in the memory benchmark
    hold_seconds: float  # how long the hold server keeps each of them
    hold_warmup: int  # concurrent warm-up calls before the idle baseline
    import_runs: int  # fresh interpreters per module
    budget: float  # seconds: no new sample starts after this
    connections: int = 100  # every client's pool size: llmpipe's default

    def warmup_for(self, concurrency: int) -> int:
        return max(self.warmup, 2 * concurrency)


QUICK = Settings(
    name="quick",
    reps=3,
    seconds=0.3,
    max_requests=20_000,
    warmup=150,
    stream_warmup=10,
    hold_requests=1000,
    hold_seconds=0.5,
    hold_warmup=8,
    import_runs=5,
    budget=100.0,
)
FULL = Settings(
    name="full",
    reps=5,
    seconds=3.0,
    max_requests=200_000,
    warmup=1000,
    stream_warmup=50,
    hold_requests=1000,
    hold_seconds=2.0,
    hold_warmup=8,
    import_runs=10,
    budget=14 * 60.0,
)


def cases() -> list[Case]:
    """Every case, in the order one repetition runs them (so A B C … A B C …)."""
    chat = [Case("chat", c, client) for c in CONCURRENCY for client in ASYNC_CHAT_CLIENTS]
    chat += [Case("chat", 1, client) for client in SYNC_CHAT_CLIENTS]
    stream = [Case("stream", 1, client) for client in STREAM_CLIENTS]
    hold = [Case("hold", 0, client) for client in HOLD_CLIENTS]
    return chat + stream + hold
