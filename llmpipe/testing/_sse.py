"""The bytes of a server-sent event stream, as the server spells them.

Plain, it is what OpenAI sends: `data: <json>` and a blank line, lines ended
by "\\n", the JSON in UTF-8 as is (not \\u-escaped, so multi-byte characters
reach the client). Stream faults vary the spelling, never the meaning: under
the WHATWG rules every variant parses to the same events.

- `line_ending` "\\r\\n" or "\\r" ends every line, blank ones included;
- `comments`: before each event a block holding only a comment (a blank line
  after no data dispatches nothing), and the event's own block starts with a
  comment, a `retry:` field and two unknown fields, one without a colon;
- `multiline`: the JSON is indented over several `data:` lines, which the
  client joins with "\\n"; JSON escapes newlines inside strings, so the joined
  text is the same JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["DONE", "SseFormat"]

DONE = "[DONE]"


@attrs.frozen
class SseFormat:
    """How to spell events: the line ending, and the optional extras."""

    line_ending: str = "\n"
    comments: bool = False
    multiline: bool = False

    def data(self, payload: Mapping[str, Any]) -> bytes:
        """The event carrying `payload` as JSON."""
        indent = 1 if self.multiline else None
        return self._event(json.dumps(payload, indent=indent, ensure_ascii=False).split("\n"))

    def done(self) -> bytes:
        """`data: [DONE]`, OpenAI's end of stream."""
        return self._event([DONE])

    def comment(self, text: str) -> bytes:
        """A block holding only the comment `: text` (a keep-alive, for one)."""
        return self._block([": " + text])

    def _event(self, data: list[str]) -> bytes:
        lines = ["data: " + line for line in data]
        if not self.comments:
            return self._block(lines)
        extras = [": an event follows", "retry: 1000", "foo: bar", "foo"]
        return self.comment("not an event") + self._block(extras + lines)

    def _block(self, lines: list[str]) -> bytes:
        end = self.line_ending
        return ("".join(line + end for line in lines) + end).encode()
