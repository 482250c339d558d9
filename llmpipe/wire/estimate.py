"""How many tokens a call will cost, guessed before it is sent: the one estimator.

A tokens-per-minute limit and a budget must both be charged before the server
says what a call cost, so the charge is an estimate, corrected afterwards
with the usage the reply reports (``llmpipe.wire.usage``). Like OpenAI's own
limiter, the estimate counts the prompt plus the most the reply may cost
(``max_tokens``): a reply can never take more than was reserved, only give
some back.

Any object with ``estimate(request)``, or any callable, is an estimator; it
answers a ``TokenEstimate`` or an int (the total, counted as prompt). Wrap a
real tokenizer (tiktoken, a Hugging Face tokenizer) for a tighter figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from llmpipe import _json
from llmpipe.request import LLMRequest

__all__ = [
    "CharacterEstimator",
    "Estimator",
    "TokenEstimate",
    "TokenEstimator",
    "UsageEstimator",
    "as_estimate",
    "estimate_function",
]


@attrs.frozen
class TokenEstimate:
    """A guess of a call's prompt and completion tokens."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


_NOTHING = TokenEstimate(0, 0)


@runtime_checkable
class TokenEstimator(Protocol):
    def estimate(self, request: LLMRequest) -> TokenEstimate | int:
        """Tokens the call may cost: split into prompt and reply, or their total."""


@attrs.frozen(kw_only=True)
class CharacterEstimator:
    """Characters over four, the rule of thumb for English text with GPT tokenizers.

    The estimate is the sum of:

    - each message: ``ceil(chars / chars_per_token) + message_overhead``,
      where chars counts string content, the text of content parts, a tool
      call's name and arguments, and a ``name``; every non-text part (an
      image) counts ``part_tokens``;
    - ``tools`` / ``functions`` definitions: their JSON length over four;
    - a completion's prompts, an embedding's inputs: their chars over four;
    - the reply: ``max_completion_tokens`` or ``max_tokens`` or, if neither
      is set, ``completion_allowance``; times ``n``, and times the number of
      prompts for a list of prompts. Embeddings have no reply.

    A body that is not JSON (a GET) costs 0.
    """

    chars_per_token: float = attrs.field(default=4.0, validator=attrs.validators.gt(0))
    message_overhead: int = attrs.field(default=4, validator=attrs.validators.ge(0))
    part_tokens: int = attrs.field(default=85, validator=attrs.validators.ge(0))
    completion_allowance: int = attrs.field(default=256, validator=attrs.validators.ge(0))

    def estimate(self, request: LLMRequest) -> TokenEstimate:
        body = request.body
        if not isinstance(body, Mapping):
            return _NOTHING
        if request.endpoint.endswith("embeddings"):
            return TokenEstimate(self._texts(body.get("input")), 0)
        prompt = self._tokens(_tools_chars(body))
        messages = body.get("messages")
        if isinstance(messages, list):
            prompt += sum(self._message(m) for m in messages)
        prompts = body.get("prompt")
        prompt += self._texts(prompts)
        replies = len(prompts) if isinstance(prompts, list) and prompts else 1
        return TokenEstimate(prompt, self._reply(body) * replies)

    __call__ = estimate  # an estimator may also be called directly

    def _tokens(self, chars: int) -> int:
        return math.ceil(chars / self.chars_per_token)

    def _texts(self, value: Any) -> int:
        if isinstance(value, str):
            return self._tokens(len(value))
        if isinstance(value, list):
            return sum(self._tokens(len(v)) for v in value if isinstance(v, str))
        return 0

    def _message(self, message: Any) -> int:
        if not isinstance(message, Mapping):
            return self.message_overhead
        chars, parts = _content_chars(message.get("content"))
        name = message.get("name")
        chars += len(name) if isinstance(name, str) else 0
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            chars += sum(_call_chars(call) for call in calls)
        return self._tokens(chars) + parts * self.part_tokens + self.message_overhead

    def _reply(self, body: Mapping[str, Any]) -> int:
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        if not isinstance(limit, int) or limit < 0:
            limit = self.completion_allowance
        choices = body.get("n", 1)
        return limit * (choices if isinstance(choices, int) and choices > 0 else 1)


UsageEstimator = CharacterEstimator
"""The name budgets used before the two estimators became one (kept for imports)."""

Estimator = TokenEstimator | Callable[[LLMRequest], TokenEstimate | int]
"""What ``estimator=`` accepts, on rate limits and budgets alike."""


def as_estimate(value: object) -> TokenEstimate:
    """An estimator's answer as a ``TokenEstimate``; an int is the total, counted as prompt."""
    if isinstance(value, TokenEstimate):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return TokenEstimate(value, 0)
    raise TypeError(f"an estimator must answer a TokenEstimate or a token count, got {value!r}")


def estimate_function(estimator: Estimator) -> Callable[[LLMRequest], TokenEstimate]:
    """One way to ask any estimator, whichever form it takes."""
    ask = estimator.estimate if isinstance(estimator, TokenEstimator) else estimator
    if not callable(ask):
        raise TypeError(f"estimator must have estimate(request) or be callable: {estimator!r}")

    def estimate(request: LLMRequest) -> TokenEstimate:
        return as_estimate(ask(request))

    return estimate


def _content_chars(content: Any) -> tuple[int, int]:
    """Characters of text, and the number of non-text parts."""
    if isinstance(content, str):
        return len(content), 0
    chars = parts = 0
    if isinstance(content, list):
        for part in content:
            text = part.get("text") if isinstance(part, Mapping) else None
            if isinstance(text, str):
                chars += len(text)
            else:
                parts += 1
    return chars, parts


def _call_chars(call: Any) -> int:
    function = call.get("function") if isinstance(call, Mapping) else None
    if not isinstance(function, Mapping):
        return 0
    return sum(
        len(v) for v in (function.get("name"), function.get("arguments")) if isinstance(v, str)
    )


def _tools_chars(body: Mapping[str, Any]) -> int:
    tools = [body[key] for key in ("tools", "functions") if body.get(key)]
    return len(_json.dumps(tools)) if tools else 0
