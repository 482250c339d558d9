"""Streams from memory: record a stream's events as bytes, replay them as a stream.

A cached stream is stored as a server-sent events body and replayed through
a real ``EventStream`` over ``ReplaySource``, so everything that reads or
observes streams (``ChatStream``, logging, counting) works on a cache hit
exactly as on a live reply, ``[DONE]`` included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from llmpipe.middleware.cache.entry import CachedReply
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.streaming.events import EventStream
from llmpipe.streaming.sse import ServerSentEvent

__all__ = ["ReplaySource", "replay", "sse_body"]

_DONE = b"data: [DONE]\n\n"
# A replay never waits for bytes, so its timeouts can never fire; any value works.
_NEVER = 3600.0


def sse_body(events: Iterable[ServerSentEvent]) -> bytes:
    """The events written back as an SSE body, ending with ``data: [DONE]``.

    Multi-line data keeps one ``data:`` line per line, as the decoder joins
    them; event names other than the default and ids are kept.
    """
    parts: list[bytes] = []
    for event in events:
        if event.event != "message":
            parts.append(b"event: " + event.event.encode() + b"\n")
        if event.id is not None:
            parts.append(b"id: " + event.id.encode() + b"\n")
        for line in event.raw.split(b"\n"):
            parts.append(b"data: " + line + b"\n")
        parts.append(b"\n")
    parts.append(_DONE)
    return b"".join(parts)


class ReplaySource:
    """A ``ByteSource`` over bytes already in memory: all of them on the first read."""

    __slots__ = ("_body",)

    def __init__(self, body: bytes) -> None:
        self._body: bytes | None = body

    def read_nowait(self) -> bytes:
        body, self._body = self._body, None
        return body or b""

    async def read(self) -> bytes:
        return self.read_nowait()

    def at_eof(self) -> bool:
        return self._body is None

    async def release(self, completed: bool) -> None:
        """Nothing to give back: there is no connection."""


async def replay(reply: CachedReply, request: LLMRequest, elapsed: float = 0.0) -> LLMResponse:
    """A response to ``request`` whose ``stream`` yields the stored events."""
    if not reply.stream:
        return reply.to_response(request, elapsed)
    stream = EventStream(
        ReplaySource(reply.body),
        endpoint=request.endpoint,
        first_event_timeout=_NEVER,
        idle_timeout=_NEVER,
        started=asyncio.get_running_loop().time(),
    )
    await stream.prefetch()
    headers = {"Content-Type": reply.content_type}
    return LLMResponse(reply.status, headers, b"", request, elapsed, stream=stream)
