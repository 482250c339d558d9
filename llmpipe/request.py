"""LLMRequest and LLMResponse: what flows through the middleware onion."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from llmpipe import _json
from llmpipe.errors import LLMResponseError, snippet

if TYPE_CHECKING:
    from llmpipe.streaming.events import EventStream

__all__ = ["LLMRequest", "LLMResponse"]

_UNPARSED: Any = object()


@attrs.frozen
class LLMRequest:
    """One API call as middlewares see it. Frozen: a retry re-sends exactly this.

    ``endpoint`` is relative to the API root (``chat/completions``). ``options``
    carries per-call settings for middlewares (``max_retries``, ...). ``context``
    is the one mutable part: middlewares use it to pass facts inward and outward
    (attempt count, cache hit, ...); ``attrs.evolve`` keeps the same mapping.
    """

    endpoint: str
    method: str = "POST"
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    timeout: float | None = None
    stream: bool = False
    options: Mapping[str, Any] = attrs.field(factory=dict)
    context: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.define
class LLMResponse:
    """A reply: status, headers, raw body, and its JSON parsed once on demand.

    A streamed reply has an empty ``content`` and its events in ``stream``;
    ``elapsed`` then measures the time to its first event.
    """

    status: int
    headers: Mapping[str, str]
    content: bytes
    request: LLMRequest
    elapsed: float = 0.0
    stream: EventStream | None = None
    _parsed: Any = attrs.field(default=_UNPARSED, init=False, repr=False, eq=False)

    @classmethod
    def from_json(
        cls,
        request: LLMRequest,
        payload: Any,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> LLMResponse:
        """A response built in process, for middlewares that answer without HTTP."""
        response = cls(status, headers or {}, _json.dumps(payload), request)
        response._parsed = payload
        return response

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON; ``LLMResponseError`` if it is not JSON."""
        if self._parsed is _UNPARSED:
            try:
                self._parsed = _json.loads(self.content)
            except ValueError as exc:
                text = self.content.decode("utf-8", "replace")
                raise LLMResponseError(
                    f"{self.request.endpoint}: server replied {self.status} with a body that "
                    f"is not JSON ({snippet(text) or 'empty body'}); check base_url points "
                    "at an OpenAI-compatible API",
                    body=text,
                ) from exc
        return self._parsed

    def text(self) -> str:
        return self.content.decode("utf-8", "replace")
