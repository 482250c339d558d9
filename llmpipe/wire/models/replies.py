"""Complete (non-streamed) replies: chat, text completions, the model list.

Fields a server may omit have defaults; only what a caller cannot do without
(``choices``, a message, a model id) is required.
"""

from __future__ import annotations

from typing import Any

import attrs

from llmpipe.wire.models.messages import Message

__all__ = [
    "ChatChoice",
    "ChatCompletionResponse",
    "CompletionChoice",
    "CompletionResponse",
    "Model",
    "ModelsResponse",
    "Usage",
]


@attrs.frozen(kw_only=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@attrs.frozen(kw_only=True)
class ChatChoice:
    message: Message
    index: int = 0
    finish_reason: str | None = None
    logprobs: Any = None


@attrs.frozen(kw_only=True)
class ChatCompletionResponse:
    choices: list[ChatChoice]
    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    usage: Usage | None = None
    system_fingerprint: str | None = None


@attrs.frozen(kw_only=True)
class CompletionChoice:
    text: str
    index: int = 0
    finish_reason: str | None = None
    logprobs: Any = None


@attrs.frozen(kw_only=True)
class CompletionResponse:
    """A text completion; streamed completions arrive as a series of these."""

    choices: list[CompletionChoice]
    id: str = ""
    object: str = "text_completion"
    created: int = 0
    model: str = ""
    usage: Usage | None = None
    system_fingerprint: str | None = None


@attrs.frozen(kw_only=True)
class Model:
    id: str
    object: str = "model"
    created: int = 0
    owned_by: str = ""


@attrs.frozen(kw_only=True)
class ModelsResponse:
    data: list[Model]
    object: str = "list"
