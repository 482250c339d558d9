"""Chat messages: what callers send and what the model answers.

Roles are open strings (system, developer, user, assistant, tool, and
whatever a newer server adds). Content is text, or a list of parts for
multimodal input; unknown part types pass through as dicts. Fields llmpipe
does not model (``reasoning_content``, a vendor's own) are kept in
``extra`` and sent back with the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from llmpipe.wire.models.extra import extra_field
from llmpipe.wire.models.wire_dict import WireDict

__all__ = [
    "ContentPart",
    "FunctionCall",
    "ImagePart",
    "ImageURL",
    "Message",
    "MessageContent",
    "TextPart",
    "ToolCall",
]


def _role(_: Any, __: Any, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"Message.role must be a non-empty string such as 'user', got {value!r}")


@attrs.frozen(kw_only=True)
class TextPart:
    text: str
    type: Literal["text"] = "text"


@attrs.frozen(kw_only=True)
class ImageURL:
    url: str
    detail: str | None = None


@attrs.frozen(kw_only=True)
class ImagePart:
    image_url: ImageURL
    type: Literal["image_url"] = "image_url"


ContentPart = TextPart | ImagePart | dict[str, Any]
MessageContent = str | list[ContentPart] | None


@attrs.frozen(kw_only=True)
class FunctionCall(WireDict):
    name: str = ""
    arguments: str = ""  # JSON text, exactly as the model wrote it
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class ToolCall(WireDict):
    function: FunctionCall
    id: str = ""
    type: str = "function"
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen
class Message(WireDict):
    """One chat message, as sent by the caller or returned by the model.

    ``extra`` holds fields llmpipe does not model; they are sent with the
    message (those whose value is null or empty are left out).
    """

    role: str = attrs.field(validator=_role)
    content: MessageContent = None
    name: str | None = attrs.field(default=None, kw_only=True)
    tool_calls: list[ToolCall] | None = attrs.field(default=None, kw_only=True)
    tool_call_id: str | None = attrs.field(default=None, kw_only=True)
    refusal: str | None = attrs.field(default=None, kw_only=True)
    extra: Mapping[str, Any] = extra_field()

    wire_nulls = frozenset({"content", "refusal"})

    @property
    def text(self) -> str:
        """The content as plain text: text parts joined, '' when there is none."""
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "".join(p.text for p in self.content if isinstance(p, TextPart))
