"""Guessing a call's tokens before it is sent, so a budget can refuse it.

The rule is simple and errs high. Prompt tokens: the length in characters of
the JSON text of what the model reads (``messages``, ``prompt`` or ``input``,
plus ``tools``) divided by ``chars_per_token`` (4, about right for English;
the JSON punctuation stands in for each message's framing). Completion
tokens: ``max_tokens`` (or ``max_completion_tokens``) times the number of
choices (``n``, times the number of prompts for a list of prompts); a call
without a limit is assumed to write ``unbounded_completion_tokens``.
Embeddings and other endpoints write no completion tokens.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from llmpipe.request import LLMRequest

__all__ = ["Estimator", "TokenEstimate", "UsageEstimator"]

_READ = ("messages", "prompt", "input", "tools")
_GENERATING = frozenset({"chat/completions", "completions"})


@attrs.frozen
class TokenEstimate:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


Estimator = Callable[[LLMRequest], TokenEstimate]


@attrs.frozen(kw_only=True)
class UsageEstimator:
    """The default ``Estimator``: characters / 4, plus the completion limit."""

    chars_per_token: float = attrs.field(default=4.0, validator=attrs.validators.gt(0))
    unbounded_completion_tokens: int = attrs.field(default=1024, validator=attrs.validators.ge(0))

    def __call__(self, request: LLMRequest) -> TokenEstimate:
        body: Mapping[str, Any] = request.body or {}
        read = {key: body[key] for key in _READ if key in body}
        chars = len(json.dumps(read, ensure_ascii=False, default=str)) if read else 0
        prompt = math.ceil(chars / self.chars_per_token)
        if request.endpoint not in _GENERATING:
            return TokenEstimate(prompt, 0)
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        per_choice = limit if isinstance(limit, int) else self.unbounded_completion_tokens
        return TokenEstimate(prompt, per_choice * _choices(body))


def _choices(body: Mapping[str, Any]) -> int:
    n = body.get("n")
    choices = n if isinstance(n, int) and n > 0 else 1
    prompt = body.get("prompt")
    if isinstance(prompt, list) and prompt:
        choices *= len(prompt)
    return choices
