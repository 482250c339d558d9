"""Which failures move a call elsewhere, and where to.

A failure is classified once (``Failure``) and the class decides:

    connection, server (5xx), rate_limited (429)  another deployment of the same alias
    context_length    the alias configured in ``Fallbacks.context_window`` (a larger model)
    content_filter    the alias configured in ``Fallbacks.content_filter``
    client (other 4xx)   nowhere: the request itself is wrong, every deployment would say so
    other             nowhere: a malformed reply, a closed client (as retry does not retry them)

Servers word "context too long" and "filtered" differently: OpenAI and
LiteLLM give ``code: context_length_exceeded``, vLLM a 400 saying "maximum
context length", llama.cpp ``exceed_context_size_error``, Anthropic-style
proxies "prompt is too long"; Azure's filter says ``code: content_filter``
(on a 400), or a 200 whose choice ended with ``finish_reason:
content_filter``. The checks here read all of those.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any

import attrs

from llmpipe import _json
from llmpipe.errors import LLMAPIError, LLMConnectionError, LLMError
from llmpipe.request import LLMResponse

__all__ = ["Failure", "Fallbacks", "classify_error", "classify_reply"]


class Failure(enum.StrEnum):
    CONNECTION = "connection"
    SERVER = "server"
    RATE_LIMITED = "rate_limited"
    CONTEXT_LENGTH = "context_length"
    CONTENT_FILTER = "content_filter"
    CLIENT = "client"
    OTHER = "other"
    """A reply that cannot be read, a closed client, a budget: no fallback,
    and nothing the breaker should count either way."""

    @property
    def deployment_at_fault(self) -> bool:
        """Whether another deployment of the same alias may well succeed."""
        return self in _DEPLOYMENT_FAULTS


_DEPLOYMENT_FAULTS = frozenset({Failure.CONNECTION, Failure.SERVER, Failure.RATE_LIMITED})

_CONTEXT_CODES = frozenset(
    {"context_length_exceeded", "exceed_context_size_error", "string_above_max_length"}
)
_CONTEXT_WORDS = re.compile(
    r"maximum context length|context length exceeded|context window|prompt is too long|"
    r"exceeds the available context|too many tokens|input is too long|reduce the length",
    re.IGNORECASE,
)
_FILTER_CODES = frozenset({"content_filter", "content_policy_violation"})
_FILTER_MARK = b'"content_filter"'


def classify_status(status: int, body: Any) -> Failure:
    """The class of a non-2xx reply, ``body`` decoded (JSON) or text."""
    if status == 429:
        return Failure.RATE_LIMITED
    if status >= 500 or status == 408:
        return Failure.SERVER
    error = body.get("error", body) if isinstance(body, Mapping) else body
    codes: set[str] = set()
    text = ""
    if isinstance(error, Mapping):
        for key in ("code", "type"):
            if isinstance(error.get(key), str):
                codes.add(error[key])
        inner = error.get("innererror")
        if isinstance(inner, Mapping) and inner.get("code") == "ResponsibleAIPolicyViolation":
            codes.add("content_filter")
        text = str(error.get("message") or error.get("detail") or "")
    elif isinstance(error, str):
        text = error
    if codes & _CONTEXT_CODES or _CONTEXT_WORDS.search(text):
        return Failure.CONTEXT_LENGTH
    if codes & _FILTER_CODES:
        return Failure.CONTENT_FILTER
    return Failure.CLIENT


def classify_reply(response: LLMResponse, *, filtered_choices: bool = False) -> Failure | None:
    """The class of a reply's failure, None for a usable reply.

    ``filtered_choices`` also reads a 200's JSON for a choice the provider's
    filter ended (only asked when a content-filter fallback is configured).
    """
    status = response.status
    if status < 300:
        # find(), not `in`: `bytes in bytes` first tries its operand as an int
        # and builds a TypeError it throws away, on every routed call
        if (
            filtered_choices
            and response.stream is None
            and response.content.find(_FILTER_MARK) >= 0
        ):
            return _filtered(response)
        return None
    return classify_status(status, _decoded(response.content))


def classify_error(error: LLMError) -> Failure:
    """The class of a raised error."""
    if isinstance(error, LLMConnectionError):
        return Failure.CONNECTION
    if isinstance(error, LLMAPIError):  # an error event before a stream's first
        return classify_status(error.status_code, error.body)
    return Failure.OTHER


def _filtered(response: LLMResponse) -> Failure | None:
    try:
        payload = response.json()
    except LLMError:
        return None
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if isinstance(choices, list) and any(
        isinstance(c, dict) and c.get("finish_reason") == "content_filter" for c in choices
    ):
        return Failure.CONTENT_FILTER
    return None


def _decoded(content: bytes) -> Any:
    try:
        return _json.loads(content)
    except ValueError:
        return content.decode("utf-8", "replace")


def _aliases(value: Mapping[str, str]) -> Mapping[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and k != v for k, v in value.items()
    ):
        raise ValueError(
            f"fallback aliases must map an alias to another alias (str to str), got {value!r}"
        )
    return dict(value)


@attrs.frozen(kw_only=True)
class Fallbacks:
    """Where a call goes when the failure is the request's, not a deployment's.

    ``context_window``: alias -> an alias with a larger context, for a
    request too long for the first. ``content_filter``: alias -> an
    alternative for a request its provider's filter refused. A fallback
    alias may have fallbacks of its own; an alias is never visited twice.
    """

    context_window: Mapping[str, str] = attrs.field(factory=dict, converter=_aliases)
    content_filter: Mapping[str, str] = attrs.field(factory=dict, converter=_aliases)

    def alias_after(self, alias: str, failure: Failure) -> str | None:
        """The alias to try after ``failure`` on ``alias``, or None."""
        if failure is Failure.CONTEXT_LENGTH:
            return self.context_window.get(alias)
        if failure is Failure.CONTENT_FILTER:
            return self.content_filter.get(alias)
        return None

    def aliases(self) -> set[str]:
        """Every alias named, as a source or a target."""
        return {*self.context_window, *self.context_window.values()} | {
            *self.content_filter,
            *self.content_filter.values(),
        }
