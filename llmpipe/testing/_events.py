"""Sending chunks as a server-sent event stream, with the stream faults applied.

A stream of n chunks has n + 1 boundaries: before each chunk, and before
`data: [DONE]`. At the boundary that a fault's count names (a count past n
names the last one) the sender, in this order, stalls, then sends the error
event and ends the response properly, or closes the connection (`Fault`).
The spelling of the bytes is `_sse`'s; this module only decides what is sent
when, and how the bytes are cut into writes.

With `chunk_size`, pieces run across event boundaries (a piece may hold the
end of one event and the start of the next), except that whatever is held
back is written before a stall, a drop or the end: the client has then
received exactly the events counted. A split echo (`Fault.split_echo`) is
written the same way: the first half of the error event, up to the middle of
the key, goes out whole before the pause.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from ._api_error import stream_error
from ._replies import close_connection
from ._sse import SseFormat
from .faults import SPLIT_PAUSE, Fault

__all__ = ["Pause", "send_events"]

# Wait this many seconds; False if the server began stopping first.
Pause = Callable[[float], Awaitable[bool]]

# The status an error event stands for when the fault gives none.
_ERROR_STATUS = 500


async def send_events(
    request: web.BaseRequest,
    chunks: list[dict[str, Any]],
    headers: Mapping[str, str],
    fault: Fault,
    pause: Pause,
    echo: str | None = None,
    per_event: float = 0.0,
) -> web.StreamResponse:
    """Stream `chunks`, ending with `data: [DONE]` as OpenAI does, unless `fault`
    ends the stream otherwise; `echo`: the key its error event repeats;
    `per_event`: seconds between one event and the next (generation's pace)."""
    response = web.StreamResponse(headers={**headers, "Cache-Control": "no-cache"})
    response.content_type = "text/event-stream"
    spelling = SseFormat(fault.line_ending, fault.sse_comments, fault.multiline_data)
    out = _Pieces(response, fault.chunk_size)
    last = len(chunks)
    stall_at = _boundary(fault.stall_after_events, last)
    try:
        await response.prepare(request)  # the client may be gone already (a hedge's loser)
        for at in range(last + 1):
            if at == stall_at:
                await out.flush()
                if not await _stall(out, spelling, fault, pause):
                    close_connection(request)  # the server is stopping
                    return response
            if at == _boundary(fault.error_after_events, last):
                data = stream_error(
                    fault.status or _ERROR_STATUS, echo, int_code=fault.int_error_code
                )
                error = spelling.data(data)
                if fault.split_echo and echo:
                    await _write_split(out, error, echo.encode(), pause)
                else:
                    await out.write(error)
                break
            if at == _boundary(fault.drop_after_events, last):
                await out.flush()
                close_connection(request)
                return response
            if per_event and at:
                await out.flush()
                if not await pause(per_event):
                    close_connection(request)  # the server is stopping
                    return response
            await out.write(spelling.data(chunks[at]) if at < last else spelling.done())
        await out.flush()
        await response.write_eof()
    except ConnectionError:
        pass  # the client stopped reading: not an error of the server's (aiohttp would log one)
    return response


async def _write_split(out: _Pieces, event: bytes, key: bytes, pause: Pause) -> None:
    """Write `event` as two HTTP chunks cut in the middle of `key`, apart in time."""
    at = event.find(key)
    cut = len(event) if at < 0 else at + max(1, len(key) // 2)
    await out.write(event[:cut])
    await out.flush()
    await pause(SPLIT_PAUSE)
    await out.write(event[cut:])


def _boundary(count: int | None, last: int) -> int | None:
    return None if count is None else min(count, last)


async def _stall(out: _Pieces, spelling: SseFormat, fault: Fault, pause: Pause) -> bool:
    """Wait `fault.delay` seconds, with a keep-alive comment every
    `keepalive_interval`; False if the server began stopping first."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    interval = fault.keepalive_interval
    if interval is not None:
        # Keep-alives fall strictly inside the stall: none at its very end.
        for beat in range(1, math.ceil(fault.delay / interval)):
            if not await pause(max(0.0, start + beat * interval - loop.time())):
                return False
            await out.write(spelling.comment("keep-alive"))
            await out.flush()
    return await pause(max(0.0, start + fault.delay - loop.time()))


class _Pieces:
    """Writes bytes to the response, in pieces of `size` bytes if a size is given.

    Each write is one HTTP chunk; bytes short of a whole piece are held back
    until more come or `flush` is called.
    """

    def __init__(self, response: web.StreamResponse, size: int | None) -> None:
        self._response = response
        self._size = size
        self._held = b""

    async def write(self, data: bytes) -> None:
        if self._size is None:
            await self._response.write(data)
            return
        self._held += data
        while len(self._held) >= self._size:
            piece, self._held = self._held[: self._size], self._held[self._size :]
            await self._response.write(piece)

    async def flush(self) -> None:
        held, self._held = self._held, b""
        if held:
            await self._response.write(held)
