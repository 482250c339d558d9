"""A client process: one client, one measurement, one JSON line on stdout.

``run.py`` starts one of these per sample, with the bench venv's python, so
each library's CPU and memory are read in a process that holds nothing else.
Every loop here stops at its request count or at ``--deadline``, whichever
comes first.

Modes:
  chat    warm up, then chat calls by ``--concurrency`` workers for ``--seconds``
          (at most ``--requests``)
  stream  warm up, then streamed calls one after another, the same way
  hold    warm up, then ``--requests`` calls all at once against the hold server,
          sampling the resident set while they are in flight
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from typing import Any

from tests.benchmarks import payloads
from tests.benchmarks.clients import CLIENTS, AsyncClient, ClientSpec, SyncClient, Unsupported
from tests.benchmarks.clients import connect as connect_client
from tests.benchmarks.measure import RssSampler, cpu_seconds, current_rss_bytes, peak_rss_bytes

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


async def _stream_loop(client: AsyncClient, count: int, deadline: float) -> int:
    events = 0
    for _ in range(count):
        if time.monotonic() >= deadline:
            break
        events += await client.stream()
    return events


def _timed(done: int, cpu_before: float, started: float) -> Result:
    return {
        "ops": done,
        "cpu_s": cpu_seconds() - cpu_before,
        "wall_s": time.perf_counter() - started,
        "peak_rss": peak_rss_bytes(),
    }


def _window(args: argparse.Namespace, deadline: float) -> float:
    """When the timed loop stops issuing calls: after ``--seconds``, or at the deadline."""
    return min(time.monotonic() + float(args.seconds), deadline)


async def _chat(client: AsyncClient, args: argparse.Namespace, deadline: float) -> Result:
    _check(await client.chat(payloads.MODEL))
    await _chat_loop(client, args.warmup, args.concurrency, deadline)
    gc.collect()
    cpu, started = cpu_seconds(), time.perf_counter()
    done = await _chat_loop(client, args.requests, args.concurrency, _window(args, deadline))
    return _timed(done, cpu, started)


async def _stream(client: AsyncClient, args: argparse.Namespace, deadline: float) -> Result:
    events = await client.stream()  # the probe: raises Unsupported if the library can't
    if events != payloads.STREAM_EVENTS:
        raise RuntimeError(f"saw {events} events, the stream has {payloads.STREAM_EVENTS}")
    await _stream_loop(client, args.warmup, deadline)
    gc.collect()
    cpu, started = cpu_seconds(), time.perf_counter()
    done = await _stream_loop(client, args.requests, _window(args, deadline))
    return _timed(done, cpu, started)


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


_MODES = {"chat": _chat, "stream": _stream, "hold": _hold}


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
        window = _window(args, deadline)
        cpu, started = cpu_seconds(), time.perf_counter()
        done = 0
        while done < args.requests and time.monotonic() < window:
            client.chat(payloads.MODEL)
            done += 1
        return _timed(done, cpu, started)
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    spec = CLIENTS[args.client]
    try:
        result = _run_sync(spec, args) if spec.sync else asyncio.run(_run_async(spec, args))
    except Unsupported as exc:
        result = {"unsupported": str(exc)}
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
