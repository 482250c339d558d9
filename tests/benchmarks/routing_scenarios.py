"""The four routing scenarios of issue 14, each run with and without its feature.

Every run gets a fresh fleet process (``routing_fleet``), so runs do not
share server state, and the client runs here, alone on its loop.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from llmpipe import AsyncLLM, LLMConfig, LLMError
from llmpipe.routing import (
    Aimd,
    BreakerPolicy,
    Deployment,
    Gradient,
    Hedging,
    PowerOfTwoChoices,
    RoundRobin,
    Router,
)

HELLO = [{"role": "user", "content": "hello"}]


class Fleet:
    """The fleet process: its URLs, and commands to it."""

    def __init__(self, process: subprocess.Popen[str], urls: list[str]) -> None:
        self._process = process
        self.urls = urls

    def command(self, text: str) -> Any:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(text + "\n")
        self._process.stdin.flush()
        return json.loads(self._process.stdout.readline())

    async def acommand(self, text: str) -> Any:
        return await asyncio.to_thread(self.command, text)


@contextmanager
def fleet(specs: list[dict[str, Any]]) -> Iterator[Fleet]:
    command = [sys.executable, "-m", "tests.benchmarks.routing_fleet", json.dumps(specs)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield Fleet(process, json.loads(process.stdout.readline())["urls"])
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def client(urls: list[str], config: dict[str, Any] | None = None, **router: Any) -> AsyncLLM:
    settings = LLMConfig(model="chat", **{"retry_delay": 0.01, "timeout": 10, **(config or {})})
    groups = router.pop("groups", None) or {
        "chat": [Deployment(base_url=u, model="gpt-4", name=f"d{i}") for i, u in enumerate(urls)]
    }
    return AsyncLLM(settings, transport=Router(groups, config=settings, **router))


@dataclass
class Run:
    """What one run measured."""

    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    elapsed: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def percentile(self, p: float, skip: int = 0) -> float:
        ordered = sorted(self.latencies[skip:])
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.latencies)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed


async def drive(
    llm: AsyncLLM,
    calls: int,
    concurrency: int,
    *,
    on_progress: Callable[[int], Awaitable[None]] | None = None,
    stream: bool = False,
) -> Run:
    """``calls`` calls from ``concurrency`` workers; each call's latency in order done
    (a stream's: until it is read to its end)."""
    run = Run()
    counter = itertools.count()
    loop = asyncio.get_running_loop()

    async def worker() -> None:
        while next(counter) < calls:
            started = loop.time()
            try:
                if stream:
                    await (await llm.chat_completion(HELLO, stream=True)).collect()
                else:
                    await llm.chat_completion(HELLO)
            except LLMError:
                run.failed += 1
                continue
            run.latencies.append(loop.time() - started)
            if on_progress is not None:
                await on_progress(len(run.latencies) + run.failed)

    started = loop.time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.elapsed = loop.time() - started
    return run


# -- tail latency ---------------------------------------------------------------


TAIL_MEDIAN, TAIL_SIGMA, TAIL_CONCURRENCY = 0.05, 0.03, 16
TAIL_SLOW_SHARE, TAIL_SLOW_FACTOR = 0.05, 20.0
# Streams: 4 events after the first (words, finish, [DONE]), 10 ms apart, after a
# first event at 10 ms; the slow 5 % are slow to their first event, by as much as
# makes the whole stream 20x the median's (the first event 96x later).
STREAM_GAP, STREAM_FIRST, STREAM_LATER_EVENTS = 0.01, 0.01, 4
STREAM_SLOW_FACTOR = (
    TAIL_SLOW_FACTOR * (STREAM_FIRST + STREAM_LATER_EVENTS * STREAM_GAP)
    - STREAM_LATER_EVENTS * STREAM_GAP
) / STREAM_FIRST


def tail_fleet(stream: bool = False) -> list[dict[str, Any]]:
    tail: dict[str, Any] = {
        "median": TAIL_MEDIAN,
        "sigma": TAIL_SIGMA,
        "slow_share": TAIL_SLOW_SHARE,
        "slow_factor": TAIL_SLOW_FACTOR,
    }
    if stream:
        tail.update(median=STREAM_FIRST, slow_factor=STREAM_SLOW_FACTOR, per_event=STREAM_GAP)
    return [{"latency": {**tail, "seed": i}} for i in range(3)]


TAIL_HEDGING = Hedging(percentile=0.9, min_samples=50, max_extra=0.1)


async def tail_latency(calls: int, hedged: bool, stream: bool = False) -> Run:
    hedging = TAIL_HEDGING if hedged else None
    with fleet(tail_fleet(stream)) as servers:
        async with client(servers.urls, hedging=hedging) as llm:
            run = await drive(llm, calls, concurrency=TAIL_CONCURRENCY, stream=stream)
            stats = llm.get_stats()
            sent = sum(replica.requests for replica in llm.transport.stats())
    run.extra = {"extra_requests": (sent - calls) / calls, "hedges": stats.hedges}
    return run


def hedging_bound(budget: float = 0.10, draws: int = 60_000) -> tuple[float, float, float]:
    """The least p99/p50 hedging plain calls reaches within ``budget`` extra requests,
    by the servers' own latency model and with no client overhead at all: (that
    ratio, the delay that gives it, the share of calls it hedges).

    A client knows nothing of a plain call but how long it has waited, so a
    policy is a delay d after which a late call is hedged: it costs P(X > d)
    extra requests, and the call takes min(X1, d + X2). A hedge that lands
    under 2x p50 needs d + X2 <= 2 p50, so d <= ~p50 (the fast requests vary
    by 3 %), where more than half the calls are still out: hedging them all
    costs > 50 %, and hedging a random tenth of them rescues a tenth of the
    slow ones. Within the budget, d >= the p90 of X, and p99 is then about
    p90 + the fast service time: the least delay the budget allows is best
    (later ones only add), tried here with a few just above it.
    """
    import random

    from llmpipe.testing import Latency

    profile = Latency(TAIL_MEDIAN, TAIL_SIGMA, TAIL_SLOW_SHARE, TAIL_SLOW_FACTOR)
    rng = random.Random(14)  # a model, reproducible
    first = sorted(profile.sample(rng.getrandbits(64)) for _ in range(draws))
    second = [profile.sample(rng.getrandbits(64)) for _ in range(draws)]
    lowest = first[min(draws - 1, int((1 - budget) * draws))]  # the budget's least delay
    best = (float("inf"), 0.0, 0.0)
    for step in range(8):
        delay = lowest * (1 + step * 0.005)
        hedged = sorted(min(x, delay + y) for x, y in zip(first, second, strict=True))
        share = sum(x > delay for x in first) / draws
        p50, p99 = hedged[draws // 2], hedged[int(0.99 * draws)]
        if share <= budget and p99 / p50 < best[0]:
            best = (p99 / p50, delay, share)
    return best


# -- failover ----------------------------------------------------------------------

COOLDOWN = 0.5
FAILURES = 5  # consecutive failures that open a deployment's breaker


class Stamps:
    """A deployment's own middleware: when each request to it was sent, when it
    ended, and whether it succeeded."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, bool]] = []
        self.failed_at: list[float] = []  # when each failure ended: what a breaker counts

    async def __call__(self, request: Any, call_next: Any) -> Any:
        loop = asyncio.get_running_loop()
        now = loop.time()
        try:
            response = await call_next(request)
        except LLMError:
            self.sent.append((now, False))
            self.failed_at.append(loop.time())
            raise
        ok = response.status < 300
        self.sent.append((now, ok))
        if not ok:
            self.failed_at.append(loop.time())
        return response


async def failover(calls: int, breakers: bool) -> Run:
    specs = [{"latency": {"median": 0.03, "sigma": 0.2, "seed": i}} for i in range(3)]
    stamps = [Stamps() for _ in specs]
    with fleet(specs) as servers:
        groups = {
            "chat": [
                Deployment(base_url=u, model="gpt-4", name=f"d{i}", middlewares=[stamps[i]])
                for i, u in enumerate(servers.urls)
            ]
        }
        breaker = BreakerPolicy(failures=FAILURES, cooldown=COOLDOWN) if breakers else None
        moments: dict[str, float] = {}

        async def timeline(done: int) -> None:
            if done >= calls * 0.3 and "down" not in moments:
                moments["down"] = -1.0
                await servers.acommand("down 1")
                moments["down"] = asyncio.get_running_loop().time()
            elif done >= calls * 0.7 and "down" in moments and "up" not in moments:
                moments["up"] = -1.0
                await servers.acommand("up 1")
                moments["up"] = asyncio.get_running_loop().time()

        async with client(servers.urls, groups=groups, breaker=breaker) as llm:
            run = await drive(llm, calls, concurrency=50, on_progress=timeline)
    sent = stamps[1].sent
    down, up = moments["down"], moments["up"]
    # The breaker opens when the failures it needs have ended (requests sent
    # before that were already on their way: the balancer had no reason yet to
    # avoid the deployment). Counting from the first failure instead charged the
    # breaker with the whole burst in flight at c=50.
    failed_at = sorted(t for t in stamps[1].failed_at if t >= down)
    opened = failed_at[FAILURES - 1] if len(failed_at) >= FAILURES else down
    outage = [t for t, _ in sent if opened + 1e-3 < t < up]
    window = max((sum(1 for u in outage if t <= u < t + COOLDOWN) for t in outage), default=0)
    back = [t for t, ok in sent if ok and t >= up]
    run.extra = {
        "outage": up - down,
        "dead_requests": len(outage),
        "per_cooldown": len(outage) / max(1e-9, (up - opened) / COOLDOWN),
        "max_in_a_cooldown": window,
        "returned_after": (min(back) - up) if back else float("inf"),
    }
    return run


# -- overload ----------------------------------------------------------------------

CAPACITY, SERVICE = 16, 0.05


async def overload(calls: int, variant: str) -> Run:
    specs = [{"latency": {"median": SERVICE}, "capacity": CAPACITY, "retry_after": 0.1}]
    limit = {"aimd": Aimd(initial=4), "gradient": Gradient(initial=4)}.get(variant)
    config = {
        "connection_limit": 256,
        "max_retries": 50,
        "retry_delay": 0.05,
        "max_retry_delay": 0.5,
        "retry_budget": None,
        "timeout": 30,
    }
    with fleet(specs) as servers:
        cap = CAPACITY if variant == "fixed-16" else None
        groups = {"chat": [Deployment(base_url=servers.urls[0], model="gpt-4", max_in_flight=cap)]}
        async with client(servers.urls, config, groups=groups, breaker=None, limit=limit) as llm:
            run = await drive(llm, calls, concurrency=200)
            replica = llm.transport.stats()[0]
        counts = servers.command("stats")
    answered, refused = counts["requests"][0], counts["refused"][0]
    run.extra = {
        "refused_share": refused / (answered + refused),
        "limit": replica.limit,
        "peak": counts["peak"][0],
    }
    return run


# -- skewed replicas --------------------------------------------------------------

SKEW_BATCH, SKEW_FAST, SKEW_CONCURRENCY = 16, 0.03, 40
SKEW = (SKEW_FAST, SKEW_FAST, 3 * SKEW_FAST)


def _model_latency(base: float, in_flight: int) -> float:
    return base * max(1.0, in_flight / SKEW_BATCH)


def oracle_split() -> tuple[tuple[int, ...], float]:
    """The split of the concurrency that minimises the mean latency, by the servers'
    model (Little's law: mean latency = concurrency / total throughput)."""
    best: tuple[tuple[int, ...], float] = ((), float("inf"))
    for a in range(SKEW_CONCURRENCY + 1):
        for b in range(SKEW_CONCURRENCY + 1 - a):
            split = (a, b, SKEW_CONCURRENCY - a - b)
            pairs = zip(split, SKEW, strict=True)
            rate = sum(n / _model_latency(base, n) for n, base in pairs if n)
            if rate and SKEW_CONCURRENCY / rate < best[1]:
                best = (split, SKEW_CONCURRENCY / rate)
    return best


async def skewed(calls: int, variant: str) -> Run:
    specs = [{"latency": {"median": base, "batch": SKEW_BATCH}} for base in SKEW]
    with fleet(specs) as servers:
        caps: tuple[int | None, ...] = (None, None, None)
        balancer: Any = PowerOfTwoChoices()
        if variant == "oracle":
            caps = oracle_split()[0]
        elif variant == "round-robin":
            balancer = RoundRobin()
        groups = {
            "chat": [
                Deployment(base_url=u, model="gpt-4", name=f"d{i}", max_in_flight=cap)
                for i, (u, cap) in enumerate(zip(servers.urls, caps, strict=True))
                if cap != 0  # the oracle may leave a replica out altogether
            ]
        }
        async with client(servers.urls, groups=groups, balancer=balancer) as llm:
            run = await drive(llm, calls, concurrency=SKEW_CONCURRENCY)
        counts = servers.command("stats")["requests"]
    run.extra = {"share_of_slow": counts[2] / sum(counts)}
    return run
