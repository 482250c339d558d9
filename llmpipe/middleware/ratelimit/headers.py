"""The server's own view of its rate limits, read from OpenAI's headers.

OpenAI (and servers copying it) send, with every reply::

    x-ratelimit-limit-requests: 500
    x-ratelimit-remaining-requests: 0        x-ratelimit-reset-requests: 1s
    x-ratelimit-remaining-tokens: 1200       x-ratelimit-reset-tokens: 6m0s

"reset" is a Go-style duration ("20ms", "1.5s", "6m0s", "1h2m3s"); plain
numbers are read as seconds. Parsing is pure and lenient: a header that
cannot be read is ignored, never trusted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from llmpipe.request import headers_of

__all__ = ["ServerLimits", "parse_duration"]

_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_PART = r"(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|ns|h|m|s)"
_DURATION = re.compile(f"(?:{_PART})+")
_PARTS = re.compile(_PART)

_LIMIT_REQUESTS = "x-ratelimit-limit-requests"
_REMAINING_REQUESTS = "x-ratelimit-remaining-requests"
_REMAINING_TOKENS = "x-ratelimit-remaining-tokens"
_RESET_REQUESTS = "x-ratelimit-reset-requests"
_RESET_TOKENS = "x-ratelimit-reset-tokens"


def parse_duration(text: str) -> float | None:
    """Seconds in a duration such as "6m0s", "20ms" or "1.5"; None if unreadable."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        if not _DURATION.fullmatch(text):
            return None
        seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PARTS.findall(text))
    return seconds if seconds >= 0 and seconds != float("inf") else None


def _count(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(float(text))
    except (ValueError, OverflowError):
        return None


def _duration(text: str | None) -> float | None:
    return None if text is None else parse_duration(text)


@attrs.frozen
class ServerLimits:
    """What one reply's headers say about the server's limits; None: not said."""

    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_requests: float | None = None
    reset_tokens: float | None = None
    limit_requests: int | None = None
    """``x-ratelimit-limit-requests``: the requests the window allows in all."""

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> ServerLimits:
        """Read the headers (a reply's headers ignore case: ``request.Headers``)."""
        headers = headers_of(headers)
        return cls(
            remaining_requests=_count(headers.get(_REMAINING_REQUESTS)),
            remaining_tokens=_count(headers.get(_REMAINING_TOKENS)),
            reset_requests=_duration(headers.get(_RESET_REQUESTS)),
            reset_tokens=_duration(headers.get(_RESET_TOKENS)),
            limit_requests=_count(headers.get(_LIMIT_REQUESTS)),
        )

    def hold(self, next_tokens: int = 0) -> float:
        """Seconds to hold further calls so the next one is not refused.

        Requests are spent at 0 remaining. Tokens are spent when fewer remain
        than ``next_tokens`` (a call like the one just made would not fit) or
        none at all. A spent limit holds calls until its reset; 0 if none is.
        """
        hold = 0.0
        if self.remaining_requests is not None and self.remaining_requests <= 0:
            hold = max(hold, self.reset_requests or 0.0)
        tokens = self.remaining_tokens
        if tokens is not None and (tokens <= 0 or tokens < next_tokens):
            hold = max(hold, self.reset_tokens or 0.0)
        return hold
