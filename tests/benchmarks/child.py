"""A client process: one client, one measurement, one JSON line on stdout.

``run.py`` starts one of these per sample, with the bench venv's python, so
each library's CPU and memory are read in a process that holds nothing else.
Every loop here stops at its request count or at ``--deadline``, whichever
comes first.

Modes:
  chat      warm up, then chat calls by ``--concurrency`` workers for ``--seconds``
            (at most ``--requests``)
  stream    warm up, then streamed calls by ``--concurrency`` workers, the same way
  stream-1  the same on one-event streams
  hold      warm up, then ``--requests`` calls all at once against the hold server,
            sampling the resident set while they are in flight
  many      warm up, then ``--requests`` streams all at once against the trickle
            server: resident set, CPU per event once all are open, and each
            stream's own event rate

An async client runs on ``asyncio.run``, or ``uvloop.run`` when its spec says
so. The result names the JSON library and event loop the process loaded, so
the report can show that each install measured what it claims.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from tests.benchmarks import payloads
from tests.benchmarks.clients import CLIENTS, AsyncClient, ClientSpec, SyncClient, Unsupported
from tests.benchmarks.clients import connect as connect_client
from tests.benchmarks.measure import RssSampler, cpu_seconds, current_rss_bytes, peak_rss_bytes
from tests.benchmarks.relay import ChildRelay

Result = dict[str, Any]


def _check(content: str) -> None:
    if content != payloads.EXPECTED_CONTENT:
        raise RuntimeError(f"wrong reply content: {content!r}")


async def _chat_loop(client: AsyncClient, count: int, concurrency: int, deadline: float) -> int:
    """``count`` calls shared by ``concurrency`` workers; stops early at ``deadline``."""
    remaining = count

    async def worker() -> int:
        nonlocal remaining
        done = 0
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            await client.chat(payloads.MODEL)
            done += 1
        return done

    return sum(await asyncio.gather(*(worker() for _ in range(concurrency))))


async def _stream_loop(
    client: AsyncClient, count: int, concurrency: int, deadline: float
) -> tuple[int, int]:
    """(streams, events) of ``count`` streams read by ``concurrency`` workers."""
    remaining = count
    streams = events = 0

    async def worker() -> None:
        nonlocal remaining, streams, events
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            seen = await client.stream(payloads.MODEL)  # not `events += await`: that loses updates
            events += seen
            streams += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return streams, events


class _Tally:
    """The timed windows' sums: one window alone, or one per turn in a relay."""

    def __init__(self) -> None:
        self.ops = self.streams = 0
        self.cpu_s = self.wall_s = 0.0
        self._cpu = self._started = 0.0

    def begin(self) -> None:
        self._cpu, self._started = cpu_seconds(), time.perf_counter()

    def end(self, ops: int, streams: int = 0) -> None:
        self.cpu_s += cpu_seconds() - self._cpu
        self.wall_s += time.perf_counter() - self._started
        self.ops += ops
        self.streams += streams

    def result(self) -> Result:
        return {
            "ops": self.ops,
            "cpu_s": self.cpu_s,
            "wall_s": self.wall_s,
            "peak_rss": peak_rss_bytes(),
        }


def _windows(args: argparse.Namespace) -> Iterator[None]:
    """Once for a process measured alone; once per turn granted when in a relay."""
    if args.relay is None:
        yield
    else:
        yield from ChildRelay(args.relay).turns()


def _window(args: argparse.Namespace, deadline: float) -> float:
    """When the timed loop stops issuing calls: after ``--seconds``, or at the deadline."""
    return min(time.monotonic() + float(args.seconds), deadline)


async def _chat(client: AsyncClient, args: argparse.Namespace, deadline: float) -> Result:
    _check(await client.chat(payloads.MODEL))
    await _chat_loop(client, args.warmup, args.concurrency, deadline)
    gc.collect()
    tally = _Tally()
    for _ in _windows(args):
        tally.begin()
        done = await _chat_loop(client, args.requests, args.concurrency, _window(args, deadline))
        tally.end(done)
    return tally.result()


async def _stream(client: AsyncClient, args: argparse.Namespace, deadline: float) -> Result:
    expected = 1 if args.mode == "stream-1" else payloads.STREAM_EVENTS
    events = await client.stream(payloads.MODEL)
    if events != expected:
        raise RuntimeError(f"saw {events} events, the stream has {expected}")
    await _stream_loop(client, args.warmup, args.concurrency, deadline)
    gc.collect()
    tally = _Tally()
    for _ in _windows(args):
        tally.begin()
        streams, events = await _stream_loop(
            client, args.requests, args.concurrency, _window(args, deadline)
        )
        tally.end(events, streams)
    return {**tally.result(), "streams": tally.streams}


_RAMP_BATCH, _RAMP_PAUSE = 100, 0.02  # 5,000 streams opened per second


class _Watch:
    """Every stream's request, first and last event times, and when the last stream began.

    A stream's rate is its events over the time from its request to its last
    event: what a reader of that stream saw. (Counting from its first event
    instead gives a stream whose events were all read in one burst, because
    the process fell behind, 0 events/s: the fastest stream looked starved.)
    """

    def __init__(self, streams: int) -> None:
        self.asked = [0.0] * streams
        self.first = [0.0] * streams
        self.last = [0.0] * streams
        self.counts = [0] * streams
        self.begun = 0
        self.events = 0
        self.all_begun: float | None = None

    def recorder(self, i: int) -> Callable[[], None]:
        first, last, counts = self.first, self.last, self.counts

        def on_event() -> None:
            now = time.monotonic()
            if not counts[i]:
                first[i] = now
                self.begun += 1
                if self.begun == len(counts):
                    self.all_begun = now
            counts[i] += 1
            last[i] = now
            self.events += 1

        return on_event

    def rates(self) -> list[float]:
        return [
            n / (b - a) if b > a else 0.0
            for n, a, b in zip(self.counts, self.asked, self.last, strict=True)
        ]


async def _many(client: AsyncClient, args: argparse.Namespace, deadline: float) -> Result:
    """Thousands of streams open at once, each paced by the server (one event per tick)."""
    for _ in range(3):  # warm: imports, the session and a few connections
        counts = await asyncio.gather(
            *(client.stream(payloads.WARM_UP_MODEL) for _ in range(args.warmup))
        )
        if counts[0] < 2:
            raise RuntimeError(f"the warm-up stream had {counts[0]} events")
    gc.collect()
    baseline = current_rss_bytes()
    watch = _Watch(args.requests)
    sampler = RssSampler()
    sampler.start()
    cpu = cpu_seconds()
    started, began = time.perf_counter(), time.monotonic()

    async def one(i: int) -> int:
        # Open at a steady pace, as streams arrive in a service: a burst of thousands of
        # connects at once would overflow the listen backlog and measure SYN retries.
        await asyncio.sleep(i // _RAMP_BATCH * _RAMP_PAUSE)
        watch.asked[i] = time.monotonic()
        return await client.stream(payloads.MODEL, watch.recorder(i))

    try:
        counts = await asyncio.wait_for(
            asyncio.gather(*(one(i) for i in range(args.requests))),
            timeout=max(deadline - time.monotonic(), 1.0),
        )
    finally:
        await sampler.stop()
    cpu = cpu_seconds() - cpu
    if watch.all_begun is None or min(counts) < 2:
        raise RuntimeError("some streams never began, or had fewer than 2 events")
    rates = watch.rates()
    return {
        "ops": watch.events,
        "cpu_s": cpu,  # the whole batch: opening, every event, the ends
        "wall_s": time.perf_counter() - started,
        "open_s": watch.all_begun - began,  # until every stream had its first event
        "streams": args.requests,
        "events": watch.events,
        "baseline_rss": baseline,
        "added_rss": sampler.peak - baseline,
        "median_rate": statistics.median(rates),
        "fairness": min(rates) / statistics.median(rates),
        "samples": sampler.samples,
        "peak_rss": peak_rss_bytes(),
    }


async def _hold(client: AsyncClient, args: argparse.Namespace, deadline: float) -> Result:
    """The resident set added by ``--requests`` calls in flight at once, over the warm idle client.

    Warm-up calls (answered at once) open ``--warmup`` connections first, so the
    baseline already holds the imports, the session and a small pool.
    """
    for _ in range(3):
        replies = await asyncio.gather(
            *(client.chat(payloads.WARM_UP_MODEL) for _ in range(args.warmup))
        )
        _check(replies[0])
    gc.collect()
    baseline = current_rss_bytes()
    sampler = RssSampler()
    sampler.start()
    started = time.perf_counter()
    try:
        replies = await asyncio.wait_for(
            asyncio.gather(*(client.chat(payloads.MODEL) for _ in range(args.requests))),
            timeout=max(deadline - time.monotonic(), 1.0),
        )
    finally:
        await sampler.stop()
    return {
        "ops": len(replies),
        "wall_s": time.perf_counter() - started,
        "baseline_rss": baseline,
        "added_rss": sampler.peak - baseline,
        "samples": sampler.samples,
        "peak_rss": peak_rss_bytes(),
    }


_MODES = {"chat": _chat, "stream": _stream, "stream-1": _stream, "hold": _hold, "many": _many}


async def _run_async(spec: ClientSpec, args: argparse.Namespace) -> Result:
    deadline = time.monotonic() + args.deadline
    client: AsyncClient = await connect_client(spec, args.base_url, args.connections)
    try:
        return await _MODES[args.mode](client, args, deadline)
    finally:
        await client.aclose()


def _run_sync(spec: ClientSpec, args: argparse.Namespace) -> Result:
    if args.mode != "chat" or args.concurrency != 1:
        raise Unsupported("sync clients are measured on sequential chat calls only")
    deadline = time.monotonic() + args.deadline
    client: SyncClient = connect_client(spec, args.base_url, args.connections)
    try:
        _check(client.chat(payloads.MODEL))
        for _ in range(args.warmup):
            client.chat(payloads.MODEL)
        gc.collect()
        tally = _Tally()
        for _ in _windows(args):
            window = _window(args, deadline)
            tally.begin()
            done = 0
            while done < args.requests and time.monotonic() < window:
                client.chat(payloads.MODEL)
                done += 1
            tally.end(done)
        return tally.result()
    finally:
        client.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--client", required=True, choices=sorted(CLIENTS))
    parser.add_argument("--mode", required=True, choices=sorted(_MODES))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--requests", type=int, required=True, help="at most this many")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of the timed loop")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--deadline", type=float, default=60.0, help="seconds for the whole run")
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one core")
    parser.add_argument(
        "--relay",
        default=None,
        help="GO_FD,DONE_FD: take timed turns with other clients (relay.py)",
    )
    return parser.parse_args(argv)


def _loaded() -> dict[str, str]:
    """What the process ran on: the JSON library llmpipe chose, and the event loop."""
    found = {"json": "orjson" if "orjson" in sys.modules else "json"}
    found["loop"] = "uvloop" if "uvloop" in sys.modules else "asyncio"
    return found


def _runner(spec: ClientSpec) -> Callable[[Awaitable[Result]], Result]:
    if spec.loop == "uvloop":
        import uvloop

        return uvloop.run  # type: ignore[no-any-return]
    return asyncio.run  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # thousands of connections
    spec = CLIENTS[args.client]
    try:
        result = _run_sync(spec, args) if spec.sync else _runner(spec)(_run_async(spec, args))
        result.update(_loaded())
    except Unsupported as exc:
        result = {"unsupported": str(exc)}
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
