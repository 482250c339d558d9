"""Complete (non-streamed) replies: chat, text completions, the model list.

Fields a server may omit have defaults; only what a caller cannot do without
(``choices``, a message, a model id) is required. Every model keeps the
fields it does not model in ``extra``; a top-level reply also carries the
HTTP facts of the call that fetched it in ``http`` (None for a reply built
in process).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from llmpipe.wire.models.extra import extra_field
from llmpipe.wire.models.http import HTTPInfo
from llmpipe.wire.models.messages import Message
from llmpipe.wire.models.wire_dict import WireDict

__all__ = [
    "ChatChoice",
    "ChatCompletionResponse",
    "CompletionChoice",
    "CompletionResponse",
    "CompletionTokensDetails",
    "Model",
    "ModelsResponse",
    "PromptTokensDetails",
    "Usage",
]


@attrs.frozen(kw_only=True)
class PromptTokensDetails(WireDict):
    """How the prompt tokens divide: ``cached_tokens`` were served from a prompt cache."""

    cached_tokens: int = 0
    audio_tokens: int = 0
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class CompletionTokensDetails(WireDict):
    """How the completion tokens divide: ``reasoning_tokens`` were thought, not shown."""

    reasoning_tokens: int = 0
    audio_tokens: int = 0
    accepted_prediction_tokens: int = 0
    rejected_prediction_tokens: int = 0
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class Usage(WireDict):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
    extra: Mapping[str, Any] = extra_field()

    @property
    def cached_tokens(self) -> int:
        """Prompt tokens served from the server's prompt cache (0 if not reported)."""
        details = self.prompt_tokens_details
        return 0 if details is None else details.cached_tokens

    @property
    def reasoning_tokens(self) -> int:
        """Completion tokens spent on reasoning (0 if not reported)."""
        details = self.completion_tokens_details
        return 0 if details is None else details.reasoning_tokens


@attrs.frozen(kw_only=True)
class ChatChoice(WireDict):
    message: Message
    index: int = 0
    finish_reason: str | None = None
    logprobs: Any = None
    extra: Mapping[str, Any] = extra_field()

    wire_nulls = frozenset({"finish_reason", "logprobs"})


@attrs.frozen(kw_only=True)
class ChatCompletionResponse(WireDict):
    choices: list[ChatChoice]
    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    usage: Usage | None = None
    system_fingerprint: str | None = None
    extra: Mapping[str, Any] = extra_field()

    wire_nulls = frozenset({"system_fingerprint"})
    http: HTTPInfo | None = attrs.field(default=None, init=False, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class CompletionChoice(WireDict):
    text: str = ""  # a streamed piece may have none (LiteLLM's finish and usage chunks)
    index: int = 0
    finish_reason: str | None = None
    logprobs: Any = None
    extra: Mapping[str, Any] = extra_field()

    wire_nulls = frozenset({"finish_reason", "logprobs"})


@attrs.frozen(kw_only=True)
class CompletionResponse(WireDict):
    """A text completion; streamed completions arrive as a series of these."""

    choices: list[CompletionChoice]
    id: str = ""
    object: str = "text_completion"
    created: int = 0
    model: str = ""
    usage: Usage | None = None
    system_fingerprint: str | None = None
    extra: Mapping[str, Any] = extra_field()

    wire_nulls = frozenset({"system_fingerprint", "usage"})  # a chunk's "usage": null
    http: HTTPInfo | None = attrs.field(default=None, init=False, eq=False, repr=False)

    @property
    def text(self) -> str:
        """The first choice's text, '' when there is no choice (a stream's usage-only chunk)."""
        return self.choices[0].text if self.choices else ""


@attrs.frozen(kw_only=True)
class Model(WireDict):
    id: str
    object: str = "model"
    created: int = 0
    owned_by: str = ""
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ModelsResponse(WireDict):
    data: list[Model]
    object: str = "list"
    extra: Mapping[str, Any] = extra_field()
    http: HTTPInfo | None = attrs.field(default=None, init=False, eq=False, repr=False)
