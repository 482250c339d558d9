"""The trickle server's process: thousands of streams open at once, one token every tick.

Run by ``server.TrickleServer``. nginx cannot pace a reply, and aiohttp.web
would spend more CPU serving 5,000 streams than the client spends reading
them, so this is a bare asyncio protocol (on uvloop when the interpreter has
it): it reads a request up to the end of its body, answers with a chunked
``text/event-stream``, and on every tick writes the next event of every open
stream. A stream ends after ``--events`` events with ``data: [DONE]``; the
connection stays open for the client's next request. Requests whose body
names ``payloads.WARM_UP_MODEL`` get their whole stream at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
from typing import cast

from tests.benchmarks import payloads

_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)
_END = b"0\r\n\r\n"
_WARM_UP = f'"{payloads.WARM_UP_MODEL}"'.encode()


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class _Stream(asyncio.Protocol):
    """One connection: parses requests, and holds the position of its current stream."""

    def __init__(self, server: Trickle) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.next_event = -1  # -1: no stream in progress

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.open.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].lower()
        length = 0
        for line in head.split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if len(self.buffer) < end + 4 + length:
            return
        body = self.buffer[end + 4 : end + 4 + length]
        self.buffer = self.buffer[end + 4 + length :]
        assert self.transport is not None
        if _WARM_UP in body:
            self.transport.write(_HEAD + b"".join(self.server.events) + _END)
            return
        self.transport.write(_HEAD)
        self.next_event = 0
        self.server.open.add(self)

    def tick(self) -> None:
        """Write this stream's next event (and its end after the last)."""
        if self.transport is None:
            return
        events = self.server.events
        self.transport.write(events[self.next_event])
        self.next_event += 1
        if self.next_event == len(events) - 1:  # only `data: [DONE]` is left
            self.transport.write(events[-1] + _END)
            self.next_event = -1
            self.server.open.discard(self)


class Trickle:
    def __init__(self, events: int, interval: float) -> None:
        self.events = [_chunked(e) for e in payloads.stream_events(events)]
        self.interval = interval
        self.open: set[_Stream] = set()

    async def run(self, port: int) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _Stream(self), "127.0.0.1", port, backlog=8192, reuse_address=True
        )
        async with server:
            next_tick = loop.time()
            while True:
                for stream in list(self.open):
                    stream.tick()
                next_tick += self.interval
                await asyncio.sleep(max(next_tick - loop.time(), 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--events", type=int, default=30, help="chunk events per stream")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between events")
    parser.add_argument("--cpu", type=int, default=None)
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    trickle = Trickle(args.events, args.interval)
    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(trickle.run(args.port))


if __name__ == "__main__":
    main()
