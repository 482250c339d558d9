"""The batch checkpoint file: one JSON line per finished item, appended durably.

Each line is one object::

    {"v": 1, "index": 3, "fingerprint": "<sha256 hex>", "response": {...}}
    {"v": 1, "index": 4, "fingerprint": "<sha256 hex>",
     "error": {"type": "BadRequestError", "message": "...", "status_code": 400}}

A line is written with one ``write``, then ``flush`` and ``os.fsync``, before
its item counts as done, so after a crash or a power cut the file holds every
finished item and at most one partial last line. Opening cuts the file back
to its last newline: the partial item is redone and the next line starts
clean. When an index has several lines, the last one wins. While a batch
appends, the file is locked (``flock``) so two batches cannot interleave.
``sync`` (``os.fsync`` unless given) is the one call that makes bytes durable:
a test passes its own to see that each line is synced, after it is written.

The fingerprint is the SHA-256 of the canonical JSON of the call: its kind
(chat or completion) and its keyword arguments (the item's merged over the
common ones, messages in their wire form, the client's model filled in when
none is given), keys sorted, integral floats written as integers (``0`` and
``0.0`` agree), attrs objects unstructured, classes by qualified name, other
non-JSON values by ``repr``. Per-call options that do not change the answer
(timeouts, deadline, retries, extra headers, tag, cache) are left out.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import attrs

from llmpipe import logs
from llmpipe.request import CALL_KEYWORDS
from llmpipe.wire.convert import converter
from llmpipe.wire.dump import dump_messages

__all__ = ["Checkpoint", "fingerprint"]

VERSION = 1
_NOT_FINGERPRINTED = frozenset(CALL_KEYWORDS)  # how a call is made, not what it asks
_SKIPPED = "checkpoint {path}: skipped {count} unreadable line(s); those items are redone"


def fingerprint(kind: str, kwargs: Mapping[str, Any], model: str) -> str:
    """The SHA-256 of one call's canonical JSON (see the module docstring)."""
    call = {k: v for k, v in kwargs.items() if k not in _NOT_FINGERPRINTED}
    call["model"] = call.get("model") or model
    if "messages" in call:
        # Malformed messages: the call fails and says why; the fingerprint uses them as given.
        with contextlib.suppress(TypeError, ValueError):
            call["messages"] = dump_messages(call["messages"])
    text = json.dumps(
        {"kind": kind, "call": _canonical(call)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    if attrs.has(type(value)):
        return _canonical(converter.unstructure(value))
    return repr(value)


Sync = Callable[[int], None]  # make what was written to a file descriptor durable


class Checkpoint:
    """An open checkpoint file: what earlier runs finished, and an appender."""

    def __init__(
        self,
        path: Path,
        handle: IO[bytes],
        records: dict[int, dict[str, Any]],
        sync: Sync = os.fsync,
    ) -> None:
        self.path = path
        self.records = records
        """The last readable record of each index."""
        self._handle = handle
        self._sync = sync
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | Path, *, sync: Sync = os.fsync) -> Checkpoint:
        """Open (or create) ``path``, lock it, read it, and cut a partial last line."""
        path = Path(path)
        created = not path.exists()
        handle = path.open("a+b")
        try:
            _lock(handle, path)
            handle.seek(0)
            data = handle.read()
            keep = data.rfind(b"\n") + 1
            if keep < len(data):  # a crash mid-write left part of a line
                handle.truncate(keep)
                handle.flush()
                sync(handle.fileno())
            if created:
                _sync_directory(path.parent, sync)
        except BaseException:
            handle.close()
            raise
        records, unreadable = _parse(data[:keep])
        if unreadable:
            logs.warning(_SKIPPED, path=str(path), count=unreadable)
        return cls(path, handle, records, sync)

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as one line and make it durable (blocking: run in a thread)."""
        line = json.dumps({"v": VERSION, **record}, ensure_ascii=False, default=repr)
        with self._lock:
            self._handle.write(line.encode() + b"\n")
            self._handle.flush()
            self._sync(self._handle.fileno())

    def close(self) -> None:
        """Close the file (waiting for a write in progress); this releases the lock."""
        with self._lock:
            self._handle.close()


def _parse(data: bytes) -> tuple[dict[int, dict[str, Any]], int]:
    records: dict[int, dict[str, Any]] = {}
    unreadable = 0
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        index = record.get("index") if isinstance(record, dict) else None
        if isinstance(index, int) and ("response" in record or "error" in record):
            records[index] = record
        elif line.strip():
            unreadable += 1
    return records, unreadable


def _sync_directory(directory: Path, sync: Sync) -> None:
    """Make a new file's directory entry durable too (POSIX; a no-op elsewhere)."""
    if sys.platform == "win32":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        sync(fd)
    finally:
        os.close(fd)


def _lock(handle: IO[bytes], path: Path) -> None:
    if sys.platform == "win32":
        return
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RuntimeError(
            f"checkpoint {path} is in use by another running batch; "
            "wait for it or give this batch its own file"
        ) from None
