"""The body of one streamed aiohttp reply, read for an EventStream.

It counts bytes against ``max_response_bytes``, masks an echoed API key, maps
aiohttp's errors to llmpipe's, and gives the connection back when the stream
ends: for reuse after a complete stream, closed otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmpipe.errors import LLMResponseError
from llmpipe.request import LLMRequest
from llmpipe.transport._pool import Slot

if TYPE_CHECKING:
    import aiohttp

    from llmpipe.transport.aiohttp import AiohttpTransport

__all__ = ["ReplySource", "is_event_stream", "too_large"]


def too_large(request: LLMRequest, limit: int) -> LLMResponseError:
    return LLMResponseError(
        f"{request.endpoint}: the reply is larger than max_response_bytes={limit}; "
        "raise the limit if such replies are expected"
    )


def is_event_stream(content_type: str) -> bool:
    return content_type == "text/event-stream"


class ReplySource:
    """The body of one streamed aiohttp reply, as an EventStream's ByteSource."""

    __slots__ = ("_content", "_left", "_reply", "_request", "_slot", "_transport")

    def __init__(
        self,
        reply: aiohttp.ClientResponse,
        transport: AiohttpTransport,
        slot: Slot,
        request: LLMRequest,
    ) -> None:
        self._reply = reply
        self._content = reply.content
        self._transport = transport
        self._slot = slot
        self._request = request
        self._left = transport._config.max_response_bytes
        transport._streams.add(self)

    def abort(self) -> None:
        """Close the connection under the stream (the client is closing)."""
        self._reply.close()
        self._content.set_exception(ConnectionResetError("the client was closed"))

    def _counted(self, chunk: bytes) -> bytes:
        self._left -= len(chunk)
        if self._left < 0:
            raise too_large(self._request, self._transport._config.max_response_bytes)
        secret = self._transport._secret
        if secret is not None and secret in chunk:  # a key split across chunks is not caught
            return self._transport._scrub(chunk)
        return chunk

    def read_nowait(self) -> bytes:
        try:
            chunk = self._content.read_nowait()
        except Exception as exc:
            raise self._transport._mapped(exc, self._request, 0) from exc
        return self._counted(chunk)

    async def read(self) -> bytes:
        try:
            chunk = await self._content.readany()
        except Exception as exc:
            raise self._transport._mapped(exc, self._request, 0) from exc
        return self._counted(chunk)

    def at_eof(self) -> bool:
        return self._content.at_eof()

    async def release(self, completed: bool) -> None:
        try:
            while completed and not self._content.at_eof() and self._content.read_nowait():
                pass  # the chunked terminator after [DONE]: consume it to reuse the connection
            if completed and self._content.at_eof():
                self._reply.release()
            else:
                self._reply.close()
        finally:
            self._transport._streams.discard(self)
            self._slot.release()
