"""Server-sent events, parsed to the WHATWG rules, incrementally.

Bytes arrive in arbitrary pieces. Lines end in ``\\n``, ``\\r\\n`` or ``\\r``;
a piece ending in ``\\r`` ends its line at once (the event is dispatched
without waiting for more bytes) and a ``\\n`` starting the next piece is then
dropped. Lines are split on bytes, so a UTF-8 character cut between pieces is
whole again before it is decoded. ``data`` lines join with ``\\n``; comments
and unknown fields are ignored; a blank line dispatches the event; at the end
of the stream an unterminated event is discarded.

Two deliberate departures, both for servers in the field:

- an unterminated ``data: [DONE]`` at the end is still dispatched (some
  servers omit the final blank line, and losing it would turn a full answer
  into a truncated one);
- an ``error:`` field line (older llama.cpp servers send
  ``error: {"code": 500, ...}`` instead of a data event) is dispatched at
  once as an event of type ``error`` whose data is the field's value.
"""

from __future__ import annotations

from typing import Any

from llmpipe import _json

__all__ = ["SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"
_DONE = b"[DONE]"
_UNPARSED: Any = object()
_new = object.__new__


class ServerSentEvent:
    """One dispatched event. ``data`` is text; ``json()`` parses it once."""

    __slots__ = ("_parsed", "event", "id", "raw", "retry")

    def __init__(
        self, raw: bytes, event: str = "message", id: str | None = None, retry: int | None = None
    ) -> None:
        self.raw = raw
        self.event = event
        self.id = id
        self.retry = retry
        self._parsed: Any = _UNPARSED

    @property
    def data(self) -> str:
        return self.raw.decode("utf-8", "replace")

    def json(self) -> Any:
        """The data as JSON (raises ``ValueError`` if it is not)."""
        if self._parsed is _UNPARSED:
            try:
                self._parsed = _json.loads(self.raw)
            except ValueError:
                self._parsed = _json.loads(self.data)  # invalid UTF-8: decode leniently
        return self._parsed

    def __repr__(self) -> str:
        return f"ServerSentEvent(event={self.event!r}, data={self.data!r}, id={self.id!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (self.raw, self.event, self.id, self.retry) == (
            other.raw,
            other.event,
            other.id,
            other.retry,
        )

    __hash__ = None  # type: ignore[assignment]


class SSEDecoder:
    """Feed it bytes; it returns the events completed so far."""

    __slots__ = ("_after_cr", "_data", "_event", "_last_id", "_retry", "_started", "_tail")

    def __init__(self) -> None:
        self._tail = b""
        self._data: list[bytes] = []
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None
        self._started = False
        self._after_cr = False  # the last piece ended in "\r": skip a "\n" that follows

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if self._after_cr and chunk:
            self._after_cr = False
            if chunk[0] == 0x0A:
                chunk = chunk[1:]
        buffer = self._tail + chunk if self._tail else chunk
        if not self._started:
            if len(buffer) < len(_BOM) and _BOM.startswith(buffer):
                self._tail = buffer
                return []
            self._started = True
            if buffer.startswith(_BOM):
                buffer = buffer[len(_BOM) :]
        # ``find``, not ``in``, on bytes throughout: ``in`` first tries the operand
        # as an int and formats the TypeError it then discards, per call.
        if buffer.find(b"\r") >= 0:
            self._after_cr = buffer.endswith(b"\r")
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        # Split at blank lines first: an event that is one ``data: `` line, as
        # nearly all are, is then a block of its own, taken whole. Everything
        # else, and a first block continuing an event begun in the last piece,
        # goes line by line; the lines after the last blank one, too.
        blocks = buffer.split(b"\n\n")
        rest = blocks.pop()
        events: list[ServerSentEvent] = []
        if blocks:
            last_id, retry = self._last_id, self._retry
            clean = not self._data and not self._event
            for block in blocks:
                if clean and block[:6] == b"data: " and block.find(b"\n") < 0:
                    # Every slot of ServerSentEvent, stored here: its __init__
                    # would be a Python call per event.
                    event = _new(ServerSentEvent)
                    event.raw = block[6:]
                    event.event = "message"
                    event.id = last_id
                    event.retry = retry
                    event._parsed = _UNPARSED
                    events.append(event)
                else:
                    self._lines(block.split(b"\n"), events)
                    self._dispatch(events)
                    last_id, retry, clean = self._last_id, self._retry, True
        lines = rest.split(b"\n")
        self._tail = lines.pop()
        if lines:
            self._lines(lines, events)
        return events

    def _lines(self, lines: list[bytes], events: list[ServerSentEvent]) -> None:
        """Whole lines, each a field, a comment or a blank line (which dispatches)."""
        data = self._data
        for line in lines:
            if line[:6] == b"data: ":
                data.append(line[6:])
            elif not line:
                self._dispatch(events)
                data = self._data
            else:
                self._line(line, events)

    def _dispatch(self, events: list[ServerSentEvent]) -> None:
        """A blank line: the event so far, if it has data, is complete."""
        data = self._data
        if data:
            raw = data[0] if len(data) == 1 else b"\n".join(data)
            events.append(
                ServerSentEvent(raw, self._event or "message", self._last_id, self._retry)
            )
            self._data = []
        self._event = ""

    def finish(self) -> list[ServerSentEvent]:
        """At end of stream: an unterminated event is discarded, as WHATWG says,
        unless it is ``data: [DONE]`` (see the module docstring)."""
        events: list[ServerSentEvent] = []
        tail, self._tail = self._tail, b""
        if tail:
            self._line(tail, events)
        if self._data == [_DONE]:
            events.append(
                ServerSentEvent(_DONE, self._event or "message", self._last_id, self._retry)
            )
        self._data = []
        return events

    def _line(self, line: bytes, events: list[ServerSentEvent]) -> None:
        """A line other than ``data: ...`` or a blank one."""
        if line[0] == 0x3A:  # ":" starts a comment
            return
        colon = line.find(b":")
        if colon < 0:
            field, value = line, b""
        else:
            field, value = line[:colon], line[colon + 1 :]
            if value[:1] == b" ":
                value = value[1:]
        if field == b"data":
            self._data.append(value)
        elif field == b"event":
            self._event = value.decode("utf-8", "replace")
        elif field == b"id":
            if b"\0" not in value:
                self._last_id = value.decode("utf-8", "replace")
        elif field == b"retry" and value.isdigit():
            self._retry = int(value)
        elif field == b"error":
            events.append(ServerSentEvent(value, "error", self._last_id, self._retry))
