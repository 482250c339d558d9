"""A raw HTTP server on loopback that answers with bytes exactly as scripted.

For the stream tests where the bytes on the wire matter (a lone CR, an event
cut in the middle, a reply with no Content-Type): the bundled server's
aiohttp would normalize them. Every request gets the same script: pieces of
bytes written in order, a float meaning "pause this many seconds", then the
connection is closed.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"


def head(content_type: str | None) -> bytes:
    """A 200 status line and headers, with this Content-Type (None: no such header)."""
    label = b"" if content_type is None else f"Content-Type: {content_type}\r\n".encode()
    return b"HTTP/1.1 200 OK\r\n" + label + b"Connection: close\r\n\r\n"


class RawServer:
    def __init__(self, *script: bytes | float) -> None:
        self._script = script
        self._server: asyncio.Server | None = None
        self.requests = 0

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
            for piece in self._script:
                if isinstance(piece, float):
                    await asyncio.sleep(piece)
                else:
                    writer.write(piece)
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
