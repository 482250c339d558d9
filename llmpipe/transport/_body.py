"""The body of one streamed aiohttp reply, handed over as bytes.

It counts bytes against ``max_response_bytes``, masks an echoed API key (also
one cut across two chunks: the mask may hold the last bytes of a chunk back
until the next one, or the end), maps aiohttp's errors to llmpipe's, and
gives the connection back when the reader is done: for reuse after a
complete body, closed otherwise. Everything it needs is given when it is
made; it knows nothing of the transport.

A stream the caller drops without closing it (no ``close()``, no ``with``,
no ``break`` out of a loop that ends it) is closed when it is collected: a
finalizer closes the connection and frees the slot on the loop the body
belongs to, so the server stops generating and the pool gets its slot back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, MutableSet
from typing import TYPE_CHECKING

from llmpipe import logs
from llmpipe._dependencies import fail_stream_reader
from llmpipe._fork import generation, keep_inherited
from llmpipe.errors import LLMResponseError
from llmpipe.request import LLMRequest
from llmpipe.transport._mask import KeyMask, StreamMask
from llmpipe.transport._pool import Slot

if TYPE_CHECKING:
    import aiohttp

__all__ = ["ReplyBody", "is_event_stream", "too_large"]

MapError = Callable[[BaseException, LLMRequest], BaseException]


def too_large(request: LLMRequest, limit: int) -> LLMResponseError:
    return LLMResponseError(
        f"{request.endpoint}: the reply is larger than max_response_bytes={limit}; "
        "raise the limit if such replies are expected"
    )


def is_event_stream(content_type: str) -> bool:
    """Whether a 2xx reply to ``stream=True`` is read as events.

    Anything but JSON or an HTML page: SSE labelled ``text/plain``, or not
    labelled at all, is still SSE (openai-python reads it so). JSON is a
    server that ignored ``stream=True``; HTML, a proxy's page.
    """
    return content_type == "text/event-stream" or not (
        content_type.endswith("json") or content_type == "text/html"
    )


class ReplyBody:
    """A streamed reply's body: a ``ByteSource`` for the event reader above.

    ``open_bodies`` is the owner's set of bodies still being read (so closing
    the client can abort them); this body leaves it when released.
    """

    __slots__ = (
        "__weakref__",
        "_born",
        "_content",
        "_left",
        "_limit",
        "_map",
        "_mask",
        "_open",
        "_released",
        "_reply",
        "_request",
        "_slot",
    )

    def __init__(
        self,
        reply: aiohttp.ClientResponse,
        slot: Slot,
        request: LLMRequest,
        *,
        limit: int,
        mask: KeyMask | None,
        map_error: MapError,
        open_bodies: MutableSet[ReplyBody],
    ) -> None:
        self._released = True  # until made whole: __del__ has nothing to close
        self._reply = reply
        self._content = reply.content
        self._slot = slot
        self._request = request
        self._limit = self._left = limit
        self._mask: StreamMask | None = None if mask is None else mask.stream()
        self._map = map_error
        self._open = open_bodies
        open_bodies.add(self)
        self._born = slot.pool.generation
        self._released = False

    def __del__(self) -> None:
        """Collected unreleased: close the connection on its loop (see the module
        docstring). ``__del__`` rather than ``weakref.finalize``: it costs nothing
        until it runs, where a finalizer costs a registry entry per stream."""
        if not self._released:
            try:  # noqa: SIM105 - no contextlib here: at interpreter exit it may be torn down
                _dropped(self._reply, self._slot, self._slot.pool.loop, self._born)
            except Exception:  # noqa: S110 - nothing is left to free, nor anyone to tell
                pass

    @property
    def slot(self) -> Slot:
        return self._slot

    def abort(self) -> None:
        """Close the connection under the body (the client is closing)."""
        self._reply.close()
        fail_stream_reader(self._content, ConnectionResetError("the client was closed"))

    def _counted(self, chunk: bytes) -> bytes:
        """``chunk`` counted and masked; at the end of the body, what the mask held."""
        mask = self._mask
        if chunk:
            self._left -= len(chunk)
            if self._left < 0:
                raise too_large(self._request, self._limit)
        elif mask is None or not mask.holding:
            return chunk  # nothing yet (a paced stream's every look): nothing to mask
        if mask is None:
            return chunk
        passed = mask.feed(chunk)
        if mask.holding and self._content.at_eof():
            passed += mask.end()
        return passed

    def read_nowait(self) -> bytes:
        try:
            chunk = self._content.read_nowait()
        except Exception as exc:
            raise self._map(exc, self._request) from exc
        return self._counted(chunk)

    async def read(self) -> bytes:
        """The next bytes; b"" only at the end (never for a chunk the mask held whole)."""
        while True:
            try:
                chunk = await self._content.readany()
            except Exception as exc:
                raise self._map(exc, self._request) from exc
            passed = self._counted(chunk)
            if passed or not chunk:
                return passed

    def at_eof(self) -> bool:
        return self._content.at_eof() and not (self._mask is not None and self._mask.holding)

    async def release(self, completed: bool) -> None:
        self.release_nowait(completed)

    def release_nowait(self, completed: bool) -> None:
        """``release`` without an await (it has none to make)."""
        self._released = True
        try:
            while completed and not self._content.at_eof() and self._content.read_nowait():
                pass  # the chunked terminator after [DONE]: consume it to reuse the connection
            if completed and self._content.at_eof():
                self._reply.release()
            else:
                self._reply.close()
        finally:
            self._open.discard(self)
            self._slot.release()


def _dropped(
    reply: aiohttp.ClientResponse, slot: Slot, loop: asyncio.AbstractEventLoop, born: int
) -> None:
    """A body collected unreleased: close it on its loop (from any thread, at any time)."""
    if generation() != born:
        keep_inherited(reply, slot)  # the parent's: closing it here would break the parent
        return
    if loop.is_closed():
        return  # the loop's shutdown closed the pool, and with it this connection
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
        loop.call_soon_threadsafe(_close_dropped, reply, slot)


def _close_dropped(reply: aiohttp.ClientResponse, slot: Slot) -> None:
    reply.close()
    slot.release()
    logs.debug("a stream was dropped unfinished: its connection is closed and its slot freed")
