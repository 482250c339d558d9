"""Where a streamed call's CPU goes, stage by stage, without a network.

    .venv-bench/bin/python -m tests.benchmarks.stream_stages [--events 20] [--repeat 7]

Each stage runs over the benchmark's own stream body (``payloads``), fed as
whole reads of ``--read-size`` bytes, so the figures isolate llmpipe's work
per event from the socket's: SSE decoding, the event stream (pending events,
observers, error checks), JSON, structuring chunks, folding, and the whole
``ChatStream`` iteration. Times are the best of ``--repeat`` runs (a busy
machine only ever adds time), in µs per event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable

from llmpipe.streaming.events import EventStream
from llmpipe.streaming.folding import ChatFold
from llmpipe.streaming.sse import SSEDecoder
from llmpipe.streaming.typed import ChatStream
from llmpipe.wire.convert import structure_payload
from llmpipe.wire.models import ChatCompletionChunk
from llmpipe.wire.usage import UsageWatcher
from tests.benchmarks import payloads
from tests.benchmarks.valgrind import per_unit


class _Bytes:
    """A ``ByteSource`` over bytes in memory, handed out ``size`` at a time."""

    def __init__(self, body: bytes, size: int) -> None:
        self._pieces = [body[i : i + size] for i in range(0, len(body), size)]
        self._next = 0

    def read_nowait(self) -> bytes:
        if self._next < len(self._pieces):
            self._next += 1
            return self._pieces[self._next - 1]
        return b""

    async def read(self) -> bytes:
        return self.read_nowait()

    def at_eof(self) -> bool:
        return self._next >= len(self._pieces)

    async def release(self, completed: bool) -> None:
        pass


def _best(run: Callable[[], None], repeat: int, loops: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(loops):
            run()
        best = min(best, (time.perf_counter() - start) / loops)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=payloads.STREAM_EVENTS)
    parser.add_argument("--read-size", type=int, default=16384)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--loops", type=int, default=300)
    parser.add_argument(
        "--only", help="run this stage --loops times, untimed (for valgrind: see --count)"
    )
    parser.add_argument(
        "--count", action="store_true", help="instructions per event by valgrind, per stage"
    )
    args = parser.parse_args(argv)
    body = payloads.stream_body(args.events) if args.events > 1 else payloads.short_stream_body()
    size = args.read_size
    reads = [body[i : i + size] for i in range(0, len(body), size)]
    decoder = SSEDecoder()
    events = [e for r in reads for e in decoder.feed(r)] + decoder.finish()
    data = [e for e in events if e.raw != b"[DONE]"]
    payload_list = [json.loads(e.raw) for e in data]
    chunks = [structure_payload(p, ChatCompletionChunk, "x", str) for p in payload_list]
    n = len(data)
    loop = asyncio.new_event_loop()

    def decode() -> None:
        decoder = SSEDecoder()
        for r in reads:
            decoder.feed(r)
        decoder.finish()

    def parse() -> None:
        for e in data:
            json.loads(e.raw)

    def structure() -> None:
        for p in payload_list:
            structure_payload(p, ChatCompletionChunk, "x", str)

    def fold() -> None:
        folding = ChatFold()
        for c in chunks:
            folding.add(c)
        folding.result()

    def events_only() -> None:
        async def go() -> None:
            stream = EventStream(
                _Bytes(body, size),  # type: ignore[arg-type]
                endpoint="x",
                first_event_timeout=30,
                idle_timeout=30,
                started=loop.time(),
            )
            stream.observe(UsageWatcher(lambda usage, summary: None))
            await stream.prefetch()
            async for _ in stream:
                pass

        loop.run_until_complete(go())

    def typed() -> None:
        from llmpipe.request import LLMRequest, LLMResponse

        async def go() -> None:
            request = LLMRequest("chat/completions", body={"stream": True})
            stream = EventStream(
                _Bytes(body, size),  # type: ignore[arg-type]
                endpoint="chat/completions",
                first_event_timeout=30,
                idle_timeout=30,
                started=loop.time(),
            )
            stream.observe(UsageWatcher(lambda usage, summary: None))
            await stream.prefetch()
            response = LLMResponse(200, {}, b"", request)
            response.stream = stream
            async for chunk in ChatStream(response):
                if chunk.choices:
                    chunk.choices[0].delta.content  # noqa: B018

        loop.run_until_complete(go())

    def floor() -> None:
        async def go() -> None:
            for e in data:
                json.loads(e.raw)["choices"][0]["delta"].get("content")

        loop.run_until_complete(go())

    stages = [
        ("SSE decode", decode),
        ("json.loads", parse),
        ("structure chunks", structure),
        ("fold + result", fold),
        ("EventStream (decode, observers)", events_only),
        ("ChatStream, all of it", typed),
        ("floor: json.loads + lookups", floor),
    ]
    if args.only is not None:
        run = dict(stages)[args.only]
        for _ in range(args.loops):
            run()
        return 0
    if args.count:
        print(f"{n} events, {len(body)} bytes in {len(reads)} reads; instructions per event")
        for name, _run in stages:
            print(f"  {name:34s} {_count(name, args, n):9,.0f}", flush=True)
        return 0
    print(f"{n} events, {len(body)} bytes in {len(reads)} reads; µs per event (best of runs)")
    for name, run in stages:
        per = _best(run, args.repeat, args.loops) / n * 1e6
        print(f"  {name:34s} {per:7.2f}")
    loop.close()
    return 0


def _count(stage: str, args: argparse.Namespace, events: int) -> float:
    """Instructions per event of ``stage``: two valgrind runs, ``--loops`` apart."""

    def command(loops: int) -> list[str]:
        cmd = [sys.executable, "-m", "tests.benchmarks.stream_stages", "--only", stage]
        cmd += ["--loops", str(loops), "--events", str(args.events)]
        return [*cmd, "--read-size", str(args.read_size)]

    return per_unit(command, 20, 20 + args.loops) / events


if __name__ == "__main__":
    raise SystemExit(main())
