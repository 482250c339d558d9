"""The tokens a reply reports: one reader, one rule, for every layer that counts.

Counting, logging, rate limits and budgets all read a reply's ``usage`` here,
from its JSON or from a stream's last usage-bearing chunk, so they can never
disagree about what a call cost. The rule, stated once:

- ``prompt_tokens`` and ``completion_tokens`` are taken as reported (a missing
  completion count is 0: embeddings report none);
- ``total_tokens`` is the server's own figure when it reports one (servers
  that count cached or reasoning tokens apart may report more than the sum),
  else prompt plus completion;
- a reply that reports only ``total_tokens`` has it counted as prompt tokens,
  so totals stay right;
- a count that is not a non-negative integer is not a count: a ``usage``
  without any is "no usage reported" (``None``);
- ``cached_tokens`` (``prompt_tokens_details``) and ``reasoning_tokens``
  (``completion_tokens_details``) are parts of the prompt and completion
  counts, not additions: 0 when not reported;
- a reply with no ``usage`` may report it in a vendor's field
  (``x_groq.usage``, see ``vendor.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from llmpipe._fast_init import fast_init
from llmpipe.errors import LLMError
from llmpipe.request import LLMResponse
from llmpipe.streaming.events import StreamSummary
from llmpipe.streaming.sse import ServerSentEvent
from llmpipe.wire.vendor import usage_of

__all__ = [
    "Figures",
    "TokenCount",
    "UsageWatcher",
    "read_usage",
    "reply_figures",
    "reply_usage",
    "usage_figures",
]


@attrs.frozen
class TokenCount:
    """What one reply reported, by the rule in this module's docstring."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0


_new_count = fast_init(
    TokenCount,
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "reasoning_tokens",
)


def _count(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else None


Figures = tuple[int, int, int, int, int]
"""A ``TokenCount``'s fields as a plain tuple, in its order (for counters)."""


def read_usage(usage: Any) -> TokenCount | None:
    """The ``TokenCount`` of a reply's ``usage`` object, or None if it reports none."""
    figures = usage_figures(usage)
    return None if figures is None else _new_count(*figures)


def usage_figures(usage: Any) -> Figures | None:
    """``read_usage``'s answer as a tuple: what counting adds up, without a
    ``TokenCount`` to build on every call."""
    if not isinstance(usage, dict):
        return None
    get = usage.get
    prompt = get("prompt_tokens")
    completion = get("completion_tokens")
    total = get("total_tokens")
    if (
        type(prompt) is int
        and type(completion) is int
        and type(total) is int
        and prompt >= 0
        and completion >= 0
        and total >= 0
    ):  # the usual reply: three counts, read without a call each
        return (
            prompt,
            completion,
            total,
            _detail(usage, "prompt_tokens_details", "cached_tokens"),
            _detail(usage, "completion_tokens_details", "reasoning_tokens"),
        )
    prompt = _count(prompt)
    completion = _count(completion)
    total = _count(total)
    if prompt is None and completion is None and total is None:
        return None
    completion = completion or 0
    if prompt is None:
        prompt = 0 if total is None else max(0, total - completion)
    return (
        prompt,
        completion,
        prompt + completion if total is None else total,
        _detail(usage, "prompt_tokens_details", "cached_tokens"),
        _detail(usage, "completion_tokens_details", "reasoning_tokens"),
    )


def _detail(usage: dict[str, Any], details: str, name: str) -> int:
    found = usage.get(details)
    if type(found) is not dict:
        return (_count(found.get(name)) or 0) if isinstance(found, dict) else 0
    count = found.get(name)
    if type(count) is int:
        return count if count > 0 else 0
    return _count(count) or 0


def reply_usage(response: LLMResponse) -> TokenCount | None:
    """The usage a JSON reply reports; None when it reports none or is not JSON."""
    figures = reply_figures(response)
    return None if figures is None else _new_count(*figures)


def reply_figures(response: LLMResponse) -> Figures | None:
    """``reply_usage``'s answer as a tuple (see ``usage_figures``).

    The usual reply (three counts, each detail absent, null or a count) is
    read in line, without the calls of the general reader (a counted call's
    share of its cost); every other shape goes to ``usage_figures``. Costs,
    in this interpreter: a subscript ~270 instructions, ``dict.get`` ~360,
    ``in`` then a subscript ~530, ``min()`` of five ~1,800.
    """
    try:
        payload = response.json()
    except LLMError:
        return None
    if type(payload) is not dict:
        return usage_figures(usage_of(payload)) if isinstance(payload, dict) else None
    try:
        usage = payload["usage"]
        prompt = usage["prompt_tokens"]
        completion = usage["completion_tokens"]
        total = usage["total_tokens"]
    except (KeyError, TypeError):  # no usage, a count missing, or no dict
        return usage_figures(usage_of(payload))
    details = usage.get("prompt_tokens_details")
    if type(details) is dict:
        cached = details.get("cached_tokens", 0)
    else:
        cached = 0 if details is None else -1  # -1: not a count, the general reader decides
    details = usage.get("completion_tokens_details")
    if type(details) is dict:
        reasoning = details.get("reasoning_tokens", 0)
    else:
        reasoning = 0 if details is None else -1
    if (
        type(prompt) is int
        and type(completion) is int
        and type(total) is int
        and type(cached) is int
        and type(reasoning) is int
        and prompt >= 0
        and completion >= 0
        and total >= 0
        and cached >= 0
        and reasoning >= 0
    ):
        return prompt, completion, total, cached, reasoning
    return usage_figures(usage_of(payload))


class UsageWatcher:
    """A stream observer: keeps the last usage a stream reports and calls
    ``done(count or None, summary)`` once the stream ends."""

    __slots__ = ("_done", "usage")

    def __init__(self, done: Callable[[TokenCount | None, StreamSummary], None]) -> None:
        self._done = done
        self.usage: TokenCount | None = None

    def on_event(self, event: ServerSentEvent) -> None:
        if event.raw.find(b'"usage"') < 0:  # cheap (``in`` on bytes formats an error)
            return
        try:
            payload = event.json()
        except ValueError:
            return
        if isinstance(payload, dict):
            usage = usage_of(payload)
            if usage is None:  # OpenAI's chunks all say "usage": null but the last
                return
            count = read_usage(usage)
            if count is not None:
                self.usage = count

    def on_end(self, summary: StreamSummary) -> None:
        self._done(self.usage, summary)
