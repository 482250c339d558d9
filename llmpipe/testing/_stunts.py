"""Replies a `Fault` cannot script, for chaos mode.

A `Fault` is plain data the server turns into a whole reply. These need to
act on the connection itself, or to send a reply slowly or in pieces:

- `reset`: the connection is reset (TCP RST, as a crashed proxy's is) before
  any header; `Fault(drop=True)` closes it politely (FIN) instead;
- `close_mid_body`: the headers declare the whole body, half of it is sent,
  then the connection closes;
- `huge_body(n)`: a body of n bytes, written in 64 KiB pieces as the client
  reads them, so the server never holds it; a client should stop reading at
  its own limit and close the connection;
- `slow(seconds)`: the proper answer, one byte per write, spread evenly over
  that many seconds.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
from aiohttp import web

from ._api_error import ApiError
from ._checks import streaming
from ._events import Pause
from ._replies import close_connection
from ._routes import ROUTES, Route
from ._sse import SseFormat

__all__ = ["Scene", "Stunt", "close_mid_body", "huge_body", "reset", "slow", "wants_stream"]

JSON = "application/json"
EVENTS = "text/event-stream"
_PAD = b"x" * 65536

# The checked route and the proper reply payload; raises ApiError.
Resolve = Callable[[], tuple[Route, dict[str, Any]]]


@attrs.frozen
class Proper:
    """The proper answer as bytes: a JSON reply, or a whole event stream."""

    status: int
    content_type: str
    body: bytes


@attrs.frozen
class Scene:
    """What a stunt acts on: one request, and how the server would answer it."""

    request: web.BaseRequest
    body: Any  # the decoded JSON body, or None
    headers: Mapping[str, str]  # x-request-id
    resolve: Resolve
    words_per_event: int
    pause: Pause  # False once the server begins stopping

    @property
    def stream(self) -> bool:
        return wants_stream(self.request.path, self.body)

    def proper(self) -> Proper:
        """The answer the server would have sent, rendered to bytes."""
        try:
            route, reply = self.resolve()
        except ApiError as error:
            return Proper(error.status, JSON, json.dumps(error.payload()).encode())
        if self.stream and route.chunker is not None:
            _, usage = streaming(self.body)
            spelling = SseFormat()
            chunks = route.chunker(reply, usage, self.words_per_event)
            events = b"".join(spelling.data(chunk) for chunk in chunks) + spelling.done()
            return Proper(200, EVENTS, events)
        return Proper(200, JSON, json.dumps(reply).encode())

    def response(self, status: int, content_type: str) -> web.StreamResponse:
        return web.StreamResponse(
            status=status, headers={**self.headers, "Content-Type": content_type}
        )


Stunt = Callable[[Scene], Awaitable[web.StreamResponse]]


def wants_stream(path: str, body: Any) -> bool:
    """Whether a request asks for an event stream that its route can send."""
    route = ROUTES.get(path)
    asks = isinstance(body, Mapping) and body.get("stream") is True
    return asks and route is not None and route.chunker is not None


async def reset(scene: Scene) -> web.StreamResponse:
    """Reset the connection: linger 0 turns the close into an RST."""
    transport = scene.request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response()  # never sent: aiohttp sees a client that went away (see `drop`)


async def close_mid_body(scene: Scene) -> web.StreamResponse:
    """Declare the proper answer's length, send half of it, and close."""
    answer = scene.proper()
    response = scene.response(answer.status, answer.content_type)
    response.content_length = len(answer.body)
    try:
        await response.prepare(scene.request)
        await response.write(answer.body[: len(answer.body) // 2])
    except ConnectionError:
        pass  # the client left first
    close_connection(scene.request)
    return response


def huge_body(size: int) -> Stunt:
    """A JSON object (or an event) of `size` bytes, most of it one long string."""

    async def send(scene: Scene) -> web.StreamResponse:
        head, tail = (
            (b'data: {"padding": "', b'"}\n\n') if scene.stream else (b'{"padding": "', b'"}')
        )
        response = scene.response(200, EVENTS if scene.stream else JSON)
        left = max(0, size - len(head) - len(tail))
        try:
            await response.prepare(scene.request)
            await response.write(head)
            while left > 0:
                piece = _PAD if left >= len(_PAD) else _PAD[:left]
                await response.write(piece)  # waits while the client's buffers are full
                left -= len(piece)
            await response.write(tail)
            await response.write_eof()
        except ConnectionError:
            pass  # the client stopped reading, as it should
        return response

    return send


def slow(seconds: float) -> Stunt:
    """The proper answer, one byte per write, the last one `seconds` after the first."""

    async def send(scene: Scene) -> web.StreamResponse:
        answer = scene.proper()
        response = scene.response(answer.status, answer.content_type)
        if not scene.stream:
            response.content_length = len(answer.body)
        loop = asyncio.get_running_loop()
        step = seconds / max(1, len(answer.body) - 1)
        try:
            await response.prepare(scene.request)
            start = loop.time()
            for at in range(len(answer.body)):
                wait = start + at * step - loop.time()
                if wait > 0 and not await scene.pause(wait):
                    close_connection(scene.request)  # the server is stopping
                    return response
                await response.write(answer.body[at : at + 1])
            await response.write_eof()
        except ConnectionError:
            pass  # the client gave up waiting
        return response

    return send
