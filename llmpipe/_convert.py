"""The one cattrs converter: every JSON wire rule of llmpipe lives here.

Replies are read leniently (unknown keys ignored, absent optional fields
defaulted); what callers build is checked strictly (a message dict needs a
role). A reply that cannot be structured becomes ``LLMResponseError`` naming
the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import cattrs

from llmpipe.errors import LLMResponseError, snippet
from llmpipe.models import Message
from llmpipe.request import LLMResponse

__all__ = ["converter", "dump_messages", "structure_reply"]

T = TypeVar("T")

converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)


def _strict_str(value: Any, _: type) -> str:
    """Reject objects where text belongs; numbers are servers' harmless quirks."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {type(value).__name__}")


def _strict_int(value: Any, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


converter.register_structure_hook(str, _strict_str)
converter.register_structure_hook(int, _strict_int)


def structure_reply(response: LLMResponse, model: type[T]) -> T:
    """Structure a 2xx reply's JSON into ``model`` or raise ``LLMResponseError``."""
    payload = response.json()
    try:
        if isinstance(payload, dict):
            return converter.structure(payload, model)
        problems = f"expected a JSON object, got {type(payload).__name__}"
    except Exception as exc:  # cattrs raises several kinds; all mean "does not fit"
        problems = "; ".join(cattrs.transform_error(exc, path="reply"))
        raise _unfit(response, model, problems, payload) from exc
    raise _unfit(response, model, problems, payload)


def _unfit(response: LLMResponse, model: type, problems: str, payload: Any) -> LLMResponseError:
    return LLMResponseError(
        f"{response.request.endpoint}: the reply does not fit {model.__name__} "
        f"({problems}); body: {snippet(response.text())}",
        body=payload,
    )


def _dump_message(message: Message | Mapping[str, Any]) -> dict[str, Any] | Mapping[str, Any]:
    if isinstance(message, Message):
        out: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.name is not None:
            out["name"] = message.name
        if message.tool_call_id is not None:
            out["tool_call_id"] = message.tool_call_id
        return out
    if isinstance(message, Mapping) and isinstance(message.get("role"), str):
        return message
    raise TypeError(
        f"each message must be a Message or a dict with a 'role' key, got {snippet(repr(message))}"
    )


def dump_messages(messages: Iterable[Message | Mapping[str, Any]]) -> list[Any]:
    """Messages as JSON-ready dicts; plain dicts pass through untouched."""
    if isinstance(messages, (str, bytes, Mapping)):
        raise TypeError("messages must be a list of Message objects or dicts, not a single one")
    dumped = [_dump_message(m) for m in messages]
    if not dumped:
        raise ValueError("messages must contain at least one message")
    return dumped
