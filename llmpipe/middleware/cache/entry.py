"""CachedReply: what a cache stores for one reply, and its byte format.

Stored format (version 1): one line of JSON metadata, a newline, then the
reply body exactly as the caller received it::

    {"v":1,"status":200,"content_type":"application/json","stream":false}\\n
    {"id":"chatcmpl-...","choices":[...],"usage":{...}}

A streamed reply is stored with ``"stream":true`` and, as its body, its events
written back as a server-sent events body ending in ``data: [DONE]``, so it
replays through the same parser as a live stream. Nothing else is stored:
no request headers (so never the API key), no response headers, not the key.
Bytes that do not parse (another version, a corrupt row) read as a miss.
"""

from __future__ import annotations

from typing import Any

import attrs

from llmpipe import _json
from llmpipe.errors import LLMError
from llmpipe.request import LLMRequest, LLMResponse

__all__ = ["CachedReply"]

_VERSION = 1
_JSON = "application/json"
# The list each known endpoint's reply cannot do without.
_NEEDED = {"chat/completions": "choices", "completions": "choices", "embeddings": "data"}


@attrs.frozen
class CachedReply:
    """A successful reply, reduced to what rebuilds an ``LLMResponse``."""

    status: int
    content_type: str
    body: bytes
    stream: bool = False

    @classmethod
    def of(cls, response: LLMResponse) -> CachedReply | None:
        """The reply to store, or None if it must not be cached.

        Only a complete 2xx reply whose body is a JSON object is worth
        replaying: not an ``error`` object some servers send with 200, and,
        for the endpoints llmpipe knows, not one lacking the field its reply
        model needs. A reply the client cannot read must not be replayed.
        """
        if not response.ok or response.stream is not None:
            return None
        try:
            payload: Any = response.json()
        except LLMError:
            return None
        if not isinstance(payload, dict) or "error" in payload:
            return None
        needed = _NEEDED.get(response.request.endpoint.strip("/"))
        if needed is not None and not isinstance(payload.get(needed), list):
            return None
        content_type = response.headers.get("content-type") or _JSON
        return cls(response.status, content_type, response.content)

    def to_bytes(self) -> bytes:
        meta = {
            "v": _VERSION,
            "status": self.status,
            "content_type": self.content_type,
            "stream": self.stream,
        }
        return _json.dumps(meta) + b"\n" + self.body

    @classmethod
    def from_bytes(cls, data: bytes) -> CachedReply | None:
        """The stored reply, or None if ``data`` is not in this format."""
        head, newline, body = data.partition(b"\n")
        try:
            meta = _json.loads(head) if newline else None
        except ValueError:
            return None
        if not isinstance(meta, dict) or meta.get("v") != _VERSION:
            return None
        status, content_type, stream = (
            meta.get("status"),
            meta.get("content_type"),
            meta.get("stream"),
        )
        if not (
            isinstance(status, int) and isinstance(content_type, str) and isinstance(stream, bool)
        ):
            return None
        return cls(status, content_type, body, stream)

    def to_response(self, request: LLMRequest, elapsed: float = 0.0) -> LLMResponse:
        """A plain (non-streamed) response answering ``request``."""
        return LLMResponse(
            self.status, {"Content-Type": self.content_type}, self.body, request, elapsed
        )
