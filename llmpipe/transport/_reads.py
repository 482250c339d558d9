"""Socket reads in pieces that malloc serves from its heap.

asyncio's selector transport reads with ``sock.recv(max_size)``, and
``max_size`` is 256 KiB: every read allocates a 256 KiB bytes object, then
shrinks it to what arrived. That is past glibc's 128 KiB mmap threshold, so
each read maps fresh pages (mmap), faults them in, shrinks them (mremap) and
unmaps them (munmap): three system calls and two page faults per read,
whatever the reply's size. An LLM reply is a few KiB read once or a few
times, so this was ~15 % of the CPU of a one-event stream at 64 streams at
once (measured: the same share for raw aiohttp, which pays it too).

A new connection of llmpipe's reads in 64 KiB pieces instead: under the
threshold, so a read's buffer comes from the heap and goes back to it, with
no system call but the recv. A larger reply takes a few more reads, each of
them cheap. Only transports that have asyncio's ``max_size`` are touched:
uvloop reads into a buffer it keeps, and a TLS connection's reads go into
its SSL protocol's buffer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["READ_SIZE", "read_in_heap_pieces"]

READ_SIZE = 64 * 1024
"""Bytes asked of the socket per read: under glibc's default mmap threshold (128 KiB)."""


def read_in_heap_pieces(transport: Any) -> None:
    """Make ``transport`` (asyncio's selector socket transport) read ``READ_SIZE`` at most."""
    size = getattr(transport, "max_size", None)
    if type(size) is int and size > READ_SIZE:
        transport.max_size = READ_SIZE
