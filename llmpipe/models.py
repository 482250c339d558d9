"""Typed messages and replies. Wire rules live in ``_convert``, not here.

Fields a server may omit have defaults; only what a caller cannot do without
(``choices``, a message, a model id) is required.
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = [
    "ChatChoice",
    "ChatCompletionResponse",
    "CompletionChoice",
    "CompletionResponse",
    "Message",
    "Model",
    "ModelsResponse",
    "Usage",
]


def _role(_: Any, __: Any, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"Message.role must be a non-empty string such as 'user', got {value!r}")


@attrs.frozen
class Message:
    """One chat message, as sent by the caller or returned by the model."""

    role: str = attrs.field(validator=_role)
    content: str | None = None
    name: str | None = None
    tool_call_id: str | None = None


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
