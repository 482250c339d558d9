"""Streamed chat chunks: each carries a delta of the message being written."""

from __future__ import annotations

from typing import Any

import attrs

from llmpipe.wire.models.replies import Usage

__all__ = ["ChatCompletionChunk", "ChunkChoice", "Delta", "FunctionCallDelta", "ToolCallDelta"]


@attrs.frozen(kw_only=True)
class FunctionCallDelta:
    name: str | None = None
    arguments: str | None = None


@attrs.frozen(kw_only=True)
class ToolCallDelta:
    """A fragment of one tool call; ``index`` says which call it extends."""

    index: int = 0
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None


@attrs.frozen(kw_only=True)
class Delta:
    role: str | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    refusal: str | None = None


@attrs.frozen(kw_only=True)
class ChunkChoice:
    delta: Delta = Delta()
    index: int = 0
    finish_reason: str | None = None
    logprobs: Any = None


@attrs.frozen(kw_only=True)
class ChatCompletionChunk:
    """One event of a streamed chat completion. The last may carry only ``usage``."""

    choices: list[ChunkChoice] = attrs.field(factory=list)
    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    usage: Usage | None = None
    system_fingerprint: str | None = None
