"""A small forwarding HTTP proxy on loopback, for the proxy tests.

It does what a corporate proxy does with client traffic: a plain-HTTP request
arrives in absolute form (``POST http://host:port/path HTTP/1.1``) and is
forwarded to that host in origin form; ``CONNECT host:port`` opens a tunnel
that carries TLS untouched. With ``credentials`` it demands
``Proxy-Authorization: Basic ...`` and answers 407 otherwise. Each forwarded
request is sent upstream with ``Connection: close`` and the client's
connection closes after the reply, which keeps the forwarding byte-simple.
``seen`` records every request line and the Proxy-Authorization it carried.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import attrs

from llmpipe.testing._thread import ServerThread

__all__ = ["ForwardProxy", "Seen", "forward_proxy"]

_HOP_BY_HOP = {b"proxy-authorization", b"proxy-connection", b"connection", b"keep-alive"}


@attrs.frozen
class Seen:
    method: str
    target: str
    proxy_authorization: str | None


class ForwardProxy:
    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self._expected = None
        if credentials is not None:
            token = base64.b64encode(":".join(credentials).encode()).decode()
            self._expected = f"Basic {token}"
        self.seen: list[Seen] = []
        self.port = 0
        self._open: set[asyncio.StreamWriter] = set()  # sockets to abort when the proxy stops

    @property
    def open_connections(self) -> int:
        """Sockets the proxy holds right now (client side and upstream)."""
        return len(self._open)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve_forever(self, ready) -> None:  # type: ignore[no-untyped-def]
        server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        ready(self.url)
        try:
            async with server:
                await server.serve_forever()
        finally:
            # Stopping cancels connection tasks mid-await; their sockets must not
            # outlive the proxy into a later test. Abort them, then let the loop
            # run the transports' connection_lost, which closes each socket.
            for writer in list(self._open):
                writer.transport.abort()
            for _ in range(3):
                await asyncio.sleep(0)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            method, target, version = lines[0].decode().split(" ")
            headers = [line.split(b":", 1) for line in lines[1:] if line]
            auth = next(
                (v.strip().decode() for k, v in headers if k.lower() == b"proxy-authorization"),
                None,
            )
            self.seen.append(Seen(method, target, auth))
            if self._expected is not None and auth != self._expected:
                writer.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="test"\r\n'
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
                await writer.drain()
                return
            if method == "CONNECT":
                await self._tunnel(target, reader, writer)
            else:
                await self._forward(method, target, version, headers, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            await _closed(writer)
            self._open.discard(writer)

    async def _tunnel(
        self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, _, port = target.rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        self._open.add(up_writer)
        try:
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await _pipe_both(reader, writer, up_reader, up_writer)
        finally:
            await _closed(up_writer)
            self._open.discard(up_writer)

    async def _forward(
        self,
        method: str,
        target: str,
        version: str,
        headers: list[list[bytes]],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        url = urlsplit(target)
        path = url.path + (f"?{url.query}" if url.query else "")
        kept = [b"%s:%s" % (k, v) for k, v in headers if k.strip().lower() not in _HOP_BY_HOP]
        length = next((int(v) for k, v in headers if k.lower() == b"content-length"), 0)
        body = await reader.readexactly(length)
        up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port or 80)
        self._open.add(up_writer)
        try:
            request_line = f"{method} {path} {version}".encode()
            head = b"\r\n".join([request_line, *kept, b"Connection: close", b"", b""])
            up_writer.write(head + body)
            await up_writer.drain()
            while chunk := await up_reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        finally:
            await _closed(up_writer)
            self._open.discard(up_writer)


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await source.read(65536):
                sink.write(chunk)
                await sink.drain()
            if sink.can_write_eof():
                sink.write_eof()  # a half-close, passed on as a proxy should

    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def _closed(writer: asyncio.StreamWriter) -> None:
    """Close and wait until the socket is closed; abort what will not close at once
    (unsent bytes to a peer that stopped reading), so no socket outlives the proxy."""
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    except (TimeoutError, OSError, asyncio.CancelledError):
        writer.transport.abort()


@contextlib.contextmanager
def forward_proxy(credentials: tuple[str, str] | None = None) -> Iterator[ForwardProxy]:
    proxy = ForwardProxy(credentials)
    thread = ServerThread(proxy.serve_forever)
    thread.start()
    try:
        yield proxy
    finally:
        thread.stop()
