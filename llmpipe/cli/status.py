"""The retry status line: what a waiting command is doing, on a terminal only.

With no server, a call retries for seconds; silence looks like a hang. The
retry layer reports each retry as a log record (its error, the retry number
and the wait); ``RetryStatus`` takes those records as llmpipe's log
forwarder and rewrites one line of stderr in place with them. It is used
only when stderr is a terminal: piped, the command stays quiet until its
one result or error line.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from typing import Any, TextIO

from llmpipe import logs
from llmpipe.errors import LLMAPIError, LLMConnectionError, LLMTimeoutError

__all__ = ["RetryStatus", "short_reason"]

_CLEAR = "\r\x1b[K"  # back to the line's start, erase to its end


class RetryStatus:
    """A ``logs.Forwarder`` that shows each retry on one line of ``stream``."""

    def __init__(
        self, stream: TextIO, max_retries: int, prefix: str, scrub: Callable[[str], str]
    ) -> None:
        self._stream = stream
        self._max_retries = max_retries
        self._prefix = prefix
        self._scrub = scrub
        self._shown = False

    def enabled(self, level_no: int) -> bool:
        return level_no >= logs.WARNING

    def forward(self, level_no: int, message: str, fields: dict[str, Any]) -> None:
        """Show the retry records: those with a retry number, a wait and an error."""
        retry, delay, error = fields.get("retry"), fields.get("delay"), fields.get("error")
        if (
            isinstance(retry, int)
            and isinstance(delay, int | float)
            and isinstance(error, Exception)
        ):
            self.show(
                f"{short_reason(error)}; retry {retry}/{self._max_retries} in {delay:.1f} s\u2026"
            )

    def show(self, text: str) -> None:
        """Replace the line with ``text``, cut to the terminal's width so it cannot wrap."""
        line = self._scrub(f"{self._prefix}: {text}")[: _width(self._stream) - 1]
        self._stream.write(_CLEAR + line)
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Erase the line, before the command's output or error takes its place."""
        if self._shown:
            self._stream.write(_CLEAR)
            self._stream.flush()
            self._shown = False


def _width(stream: TextIO) -> int:
    """The terminal's columns (80 when it does not say: a fresh pty says 0)."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        columns = 0
    return columns if columns >= 20 else shutil.get_terminal_size().columns or 80


def short_reason(error: Exception) -> str:
    """A few words for a failed attempt ("connection refused", "HTTP 503")."""
    if isinstance(error, LLMAPIError):
        return f"HTTP {error.status_code}"
    if isinstance(error, LLMTimeoutError):
        return "timed out"
    if isinstance(error, LLMConnectionError):
        cause: BaseException | None = error.__cause__
        while cause is not None:
            if getattr(cause, "errno", None) == errno.ECONNREFUSED:
                return "connection refused"
            cause = cause.__cause__ or cause.__context__
        return "cannot connect"
    return type(error).__name__
