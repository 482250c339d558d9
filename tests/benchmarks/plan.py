"""What one run measures: the cases, and how long each sample runs (quick or full).

A case is one (benchmark, concurrency, client); a sample is one client
process measuring it. Figures compare cases of the same benchmark and
concurrency with the floor, raw aiohttp. llmpipe is measured twice, as each
install gives it (``clients.INSTALLS``): ``llmpipe…`` clients run in the
default-install venv, ``llmpipe-fast…`` ones in the ``[fast]`` + uvloop venv.

Benchmarks:
    chat      non-streamed chat calls (CPU per request)
    stream    20-event streams (CPU per event)
    stream-1  one-event streams: request, first event, [DONE] (CPU per stream)
    hold      1,000 calls in flight at once (memory)
    many      thousands of long-lived streams paced by the server (memory, CPU, fairness)
    otel      OpenTelemetryMiddleware's cost per call, stacks alternating in one process
              (``otel_overhead``: a section of its own, not cases)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BENCHES",
    "CONCURRENCY",
    "FLOOR",
    "FULL",
    "IMPORTS",
    "QUICK",
    "STREAM_CONCURRENCY",
    "Case",
    "Settings",
    "cases",
]

FLOOR = "raw"
BENCHES = ("chat", "stream", "stream-1", "hold", "many", "import", "otel")
CONCURRENCY = (1, 64, 256)
STREAM_CONCURRENCY = (1, 64)
_LLMPIPE_ASYNC = ("llmpipe", "llmpipe-empty", "llmpipe-fast", "llmpipe-fast-empty")
_OPENAI_ASYNC = ("openai", "openai-aiohttp")
CHAT_CLIENTS = (FLOOR, *_LLMPIPE_ASYNC, *_OPENAI_ASYNC)
CHAT_C1_CLIENTS = ("llmpipe-fast-uvloop",)  # AsyncLLM on a loop the user chose, at c=1
SYNC_CHAT_CLIENTS = ("llmpipe-sync", "llmpipe-fast-sync", "requests", "openai-sync")
STREAM_CLIENTS = (FLOOR, "llmpipe", "llmpipe-fast")
HOLD_CLIENTS = (FLOOR, "llmpipe", "openai-aiohttp")
MANY_CLIENTS = (FLOOR, "llmpipe", "llmpipe-fast")
# Modules whose import is timed (default venv); the first is the floor.
IMPORTS = ("aiohttp", "llmpipe", "openai")


@dataclass(frozen=True, order=True)
class Case:
    bench: str
    concurrency: int
    client: str

    def __str__(self) -> str:
        where = f" c={self.concurrency}" if self.concurrency else ""
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
    many_streams: int  # streams open at once in the many-streams benchmark
    many_events: int  # events per stream there, one per ``many_interval`` seconds
    import_runs: int  # fresh interpreters per module
    budget: float  # seconds: no new sample starts after this
    many_interval: float = 0.1
    connections: int = 100  # every client's pool size: llmpipe's default
    sdk: bool = True  # measure the official SDK too (slow to start: the quick run skips it)
    relay: bool = True  # chat and stream clients of a group take turns (relay.py)

    def warmup_for(self, concurrency: int) -> int:
        return max(self.warmup, 2 * concurrency)


QUICK = Settings(
    name="quick",
    reps=3,
    seconds=0.25,
    max_requests=20_000,
    warmup=100,
    stream_warmup=10,
    hold_requests=1000,
    hold_seconds=0.5,
    hold_warmup=8,
    many_streams=2000,
    many_events=10,
    import_runs=3,
    budget=170.0,
    sdk=False,
)
FULL = Settings(
    name="full",
    reps=3,
    seconds=2.0,
    max_requests=200_000,
    warmup=1000,
    stream_warmup=50,
    hold_requests=1000,
    hold_seconds=2.0,
    hold_warmup=8,
    many_streams=5000,
    many_events=30,
    import_runs=10,
    budget=14 * 60.0,
)


def cases(settings: Settings = FULL) -> list[Case]:
    """Every case, in the order one repetition runs them (so A B C … A B C …)."""
    return [c for c in _all_cases() if settings.sdk or not c.client.startswith("openai")]


def _all_cases() -> list[Case]:
    chat = [  # the SDK at c=256 only repeats what c=64 shows, slowly
        Case("chat", c, client)
        for c in CONCURRENCY
        for client in CHAT_CLIENTS
        if c < 256 or client not in _OPENAI_ASYNC
    ]
    chat += [Case("chat", 1, client) for client in (*CHAT_C1_CLIENTS, *SYNC_CHAT_CLIENTS)]
    stream = []
    for bench in ("stream", "stream-1"):
        for c in STREAM_CONCURRENCY:
            stream += [Case(bench, c, client) for client in STREAM_CLIENTS]
            if bench == "stream" and c == 1:
                stream += [Case(bench, c, client) for client in _OPENAI_ASYNC]
    hold = [Case("hold", 0, client) for client in HOLD_CLIENTS]
    many = [Case("many", 0, client) for client in MANY_CLIENTS]
    return sorted(chat) + stream + hold + many
