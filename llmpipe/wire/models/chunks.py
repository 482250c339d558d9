"""Streamed chat chunks: each carries a delta of the message being written.

Every field of a chunk is optional: servers send chunks with no ``delta``,
no ``index``, no ``role`` or no ``finish_reason`` (usage-only chunks,
Azure's content-filter chunks, LiteLLM's finish chunks). Fields a chunk does
not model are kept in ``extra``; the folded reply concatenates text extras
of deltas (``reasoning_content``) as it does ``content``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from llmpipe.wire.models.extra import extra_field
from llmpipe.wire.models.replies import Usage
from llmpipe.wire.models.wire_dict import WireDict

__all__ = ["ChatCompletionChunk", "ChunkChoice", "Delta", "FunctionCallDelta", "ToolCallDelta"]


@attrs.frozen(kw_only=True)
class FunctionCallDelta(WireDict):
    name: str | None = None
    arguments: str | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ToolCallDelta(WireDict):
    """A fragment of one tool call; ``index`` says which call it extends.

    Some servers send no ``index`` (None here), or give every call index 0
    (Ollama): folding then tells calls apart by their ``id``.
    """

    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class Delta(WireDict):
    role: str | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    refusal: str | None = None
    extra: Mapping[str, Any] = extra_field()

    def to_dict(self) -> dict[str, Any]:
        """As sent: the delta that opens the message (it has the role) says ``"content": null``."""
        out = super().to_dict()
        if self.role is not None:
            out.setdefault("content", None)
        return out


@attrs.frozen(kw_only=True)
class ChunkChoice(WireDict):
    delta: Delta = Delta()
    index: int = 0
    finish_reason: str | None = None
    logprobs: Any = None
    extra: Mapping[str, Any] = extra_field()

    wire_nulls = frozenset({"finish_reason", "logprobs"})


@attrs.frozen(kw_only=True)
class ChatCompletionChunk(WireDict):
    """One event of a streamed chat completion. The last may carry only ``usage``."""

    choices: list[ChunkChoice] = attrs.field(factory=list)
    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    usage: Usage | None = None
    system_fingerprint: str | None = None
    extra: Mapping[str, Any] = extra_field()

    wire_nulls = frozenset({"system_fingerprint", "usage"})

    @property
    def text(self) -> str:
        """The first choice's new content, '' when there is none.

        The final chunk of a stream with usage has no choice at all
        (``"choices": []``), and role or finish chunks have no content: a
        caller printing ``chunk.text`` needs no guard for either.
        """
        if not self.choices:
            return ""
        return self.choices[0].delta.content or ""
