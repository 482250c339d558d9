"""What the command prints, and where: results on stdout, everything else on stderr.

With ``--json``, stdout holds only JSON (one document, or one chunk a line
when streaming) and a failure is one JSON line on stderr, shaped
``{"error": {"type", "message", "status", "request_id"}}``. Without it, a
failure is one ``llmpipe: error: ...`` line. Every line is scrubbed of the
API keys this run knows, in case a server or proxy echoes one back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from llmpipe.errors import LLMAPIError
from llmpipe.wire.models.wire_dict import WireDict

__all__ = ["Output", "error_line", "one_line", "scrubber", "secrets", "write"]

_KEY_VARIABLES = ("LLMPIPE_API_KEY", "OPENAI_API_KEY")
_MASK = "***"


class Output:
    """stdout for a command's result, flushed per write so tokens show as they come.

    ``before`` runs ahead of each write (it clears the retry status line).
    """

    def __init__(self, stream: TextIO, before: Callable[[], None]) -> None:
        self._stream = stream
        self._before = before

    def text(self, text: str) -> None:
        if text:
            self._before()
            self._stream.write(text)
            self._stream.flush()

    def document(self, reply: WireDict) -> None:
        """A whole reply as indented JSON, as the server sent it (``to_dict``)."""
        self.text(json.dumps(reply.to_dict(), indent=2, ensure_ascii=False) + "\n")

    def json_line(self, chunk: WireDict) -> None:
        """One stream chunk as a line of JSON (JSON Lines)."""
        self.text(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")


def error_line(prog: str, error: BaseException, as_json: bool, scrub: Callable[[str], str]) -> str:
    """The one stderr line that reports ``error``, ending in a newline."""
    message = scrub(one_line(error))
    if not as_json:
        return f"{prog}: error: {message}\n"
    api = error if isinstance(error, LLMAPIError) else None
    shape = {
        "type": type(error).__name__,
        "message": message,
        "status": None if api is None else api.status_code,
        "request_id": None if api is None else api.request_id,
    }
    return json.dumps({"error": shape}, ensure_ascii=False) + "\n"


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def secrets(*given: str | None) -> list[str]:
    """Every key this run may know, from flags or the environment, longest first."""
    candidates = [*given, *(os.environ.get(name) for name in _KEY_VARIABLES)]
    return sorted({key for key in candidates if key}, key=len, reverse=True)


def scrubber(keys: Sequence[str]) -> Callable[[str], str]:
    """Mask the keys in diagnostics."""

    def scrub(text: str) -> str:
        for key in keys:
            text = text.replace(key, _MASK)
        return text

    return scrub


def write(stream: Any, text: str) -> None:
    stream.write(text)
    stream.flush()
