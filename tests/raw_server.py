"""A raw socket server on loopback, for tests where the bytes must be exact.

Each accepted connection is served by the next function of a script (the
last one serves any connection after it), on a thread of its own. The
functions read requests and write, close or reset as they please, so a test
can produce what a well-behaved server never would: a reset on an idle
keep-alive connection, half a status line, a 12 KiB header.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Peer", "RawServer", "chat_reply", "raw_server"]

_TIMEOUT = 10.0


class Peer:
    """One accepted connection, seen from the server."""

    def __init__(self, sock: socket.socket, requests: list[bytes]) -> None:
        self.sock = sock
        self._requests = requests
        self._buffer = b""

    def read_request(self) -> bytes:
        """One whole request (head and Content-Length body); b"" if the client closed."""
        while b"\r\n\r\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                return b""
            self._buffer += chunk
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        request, self._buffer = head + b"\r\n\r\n" + rest[:length], rest[length:]
        self._requests.append(request)
        return request

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reset(self) -> None:
        """Close with a TCP RST rather than a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


Handler = Callable[[Peer], None]


class RawServer:
    """Serves the ``script``; ``requests`` and ``accepted`` say what it saw."""

    def __init__(self, script: list[Handler]) -> None:
        self._script = script
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.requests: list[bytes] = []
        self.accepted = 0
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def start(self) -> None:
        accept = threading.Thread(target=self._accept, name="raw-server", daemon=True)
        accept.start()
        self._threads.append(accept)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(_TIMEOUT)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            sock.settimeout(_TIMEOUT)
            handler = self._script[min(self.accepted, len(self._script) - 1)]
            self.accepted += 1
            peer = Peer(sock, self.requests)
            thread = threading.Thread(target=self._serve, args=(handler, peer), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, handler: Handler, peer: Peer) -> None:
        try:
            handler(peer)
        except OSError:
            pass  # the client went away: nothing left to serve
        finally:
            peer.close()


@contextmanager
def raw_server(*script: Handler) -> Iterator[RawServer]:
    server = RawServer(list(script))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def chat_reply(text: str = "hi", *, headers: bytes = b"", close: bool = False) -> bytes:
    """A complete 200 chat completion, byte for byte (kept alive unless ``close``)."""
    body = json.dumps(
        {
            "id": "chatcmpl-raw",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
        }
    ).encode()
    connection = b"close" if close else b"keep-alive"
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + b"Content-Length: %d\r\nConnection: %s\r\n" % (len(body), connection)
        + headers
        + b"\r\n"
        + body
    )
