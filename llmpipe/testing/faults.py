"""Scripted misbehaviour for the test server.

A `Fault` says how the server should answer the next matching request
instead of answering it properly: the failures a real provider or a proxy in
front of it produces (rate limits, HTML error pages, stalls, dropped
connections, truncated JSON). Faults are plain data; `_replies` turns one
into an HTTP reply, so the two can be read and tested apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

__all__ = ["Fault"]


def _frozen_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """Copy the headers, so a caller mutating its dict cannot change a queued fault."""
    return MappingProxyType(dict(headers))


def _check_status(_: Fault, __: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and not 200 <= value <= 599:
        raise ValueError(f"status must be a final HTTP status (200-599), got {value}")


@attrs.frozen
class Fault:
    """How to answer one request instead of answering it properly.

    Queued with `LLMServer.add_faults`; each request whose path ends with
    `path` (any request if `path` is None) consumes the fault at the head of
    the queue. Requests to other paths pass untouched and leave it queued.
    Faults apply before the API key check, and to streaming requests too
    (a status fault answers a `"stream": true` request with its JSON error).

    - `status` with no `body`: an OpenAI-style JSON error for that status
      (below 400, an empty body).
    - `body`: a dict is sent as JSON; a str as text/html (a proxy's error
      page); bytes as application/octet-stream. `content_type` overrides the
      type. Without `status` the body comes with 200.
    - `malformed`: 200 (or `status`) with a truncated JSON object labelled
      application/json.
    - `drop`: the connection is closed and nothing at all is sent. aiohttp
      clients resend an idempotent request (GET) once after a disconnect, so
      a dropped GET is usually followed by a second request.
    - `delay`: seconds to wait before any of the above; with nothing else set
      the request is then answered properly (stall past a client timeout).
    - `headers`: extra response headers (Retry-After, ...); with nothing else
      set the request is answered properly with these headers added.
    """

    status: int | None = attrs.field(default=None, validator=_check_status)
    body: str | bytes | Mapping[str, Any] | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_headers)
    delay: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))
    drop: bool = False
    malformed: bool = False
    content_type: str | None = None
    path: str | None = None

    def __attrs_post_init__(self) -> None:
        # Reject combinations whose parts would be silently ignored.
        if self.drop and (
            self.status is not None
            or self.body is not None
            or self.headers
            or self.malformed
            or self.content_type is not None
        ):
            raise ValueError("a dropped connection sends nothing: drop excludes every reply field")
        if self.malformed and self.body is not None:
            raise ValueError("malformed supplies its own body: do not also give body")
        if self.content_type is not None and self.body is None and not self.malformed:
            raise ValueError("content_type labels a body: give body or malformed with it")

    @property
    def replaces_answer(self) -> bool:
        """Whether the fault answers in place of the real endpoint."""
        return self.drop or self.malformed or self.status is not None or self.body is not None

    def applies_to(self, path: str) -> bool:
        """Whether a request to `path` should consume this fault."""
        return self.path is None or path.endswith(self.path)
