"""The one cattrs converter: every JSON wire rule of llmpipe lives here.

Replies are read leniently (unknown keys ignored, absent optional fields
defaulted); what callers build is checked strictly (a message dict needs a
role). A reply that cannot be structured becomes ``LLMResponseError`` naming
the field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import cattrs
from cattrs.v import format_exception

from llmpipe.errors import LLMResponseError, snippet
from llmpipe.request import LLMResponse
from llmpipe.wire.fastpath import FAST_BUILDERS, NotPlain
from llmpipe.wire.models import ImagePart, Message, MessageContent, TextPart

__all__ = ["converter", "dump_messages", "misfit", "structure_payload", "structure_reply"]

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


def _structure_part(part: Any) -> Any:
    if not isinstance(part, dict):
        raise ValueError(f"expected a content part object, got {type(part).__name__}")
    kind = part.get("type")
    if kind == "text":
        return converter.structure(part, TextPart)
    if kind == "image_url":
        return converter.structure(part, ImagePart)
    return part  # audio, files, newer part types: kept as sent


def _structure_content(value: Any, _: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_structure_part(part) for part in value]
    raise ValueError(f"expected text or a list of content parts, got {type(value).__name__}")


def _structure_vector(value: Any, _: Any) -> list[float] | str:
    if isinstance(value, str):
        return value  # base64
    if isinstance(value, list):
        return [float(x) for x in value]
    raise ValueError(f"expected a list of numbers or base64 text, got {type(value).__name__}")


converter.register_structure_hook(str, _strict_str)
converter.register_structure_hook(int, _strict_int)
converter.register_structure_hook(MessageContent, _structure_content)
converter.register_structure_hook(list[float] | str, _structure_vector)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def structure_reply(response: LLMResponse, model: type[T]) -> T:
    """Structure a 2xx reply's JSON into ``model`` or raise ``LLMResponseError``."""
    return structure_payload(response.json(), model, response.request.endpoint, response.text)


def structure_payload(payload: Any, model: type[T], where: str, text: Callable[[], str]) -> T:
    """Structure decoded JSON into ``model``; ``text`` gives the raw body for messages."""
    fast = FAST_BUILDERS.get(model)
    if fast is not None and type(payload) is dict:
        try:
            return fast(payload)  # type: ignore[no-any-return]
        except NotPlain:
            pass
    try:
        if isinstance(payload, dict):
            return converter.structure(payload, model)
        problems = f"expected a JSON object, got {type(payload).__name__}"
    except Exception as exc:  # cattrs raises several kinds; all mean "does not fit"
        problems = misfit(exc, "reply")
        raise _unfit(where, model, problems, payload, text()) from exc
    raise _unfit(where, model, problems, payload, text())


def _problem(exc: BaseException, type: Any) -> str:
    """cattrs' wording, plus the validator's own message, which names the field."""
    text = format_exception(exc, type)
    if isinstance(exc, ValueError) and str(exc):
        text = f"{text}: {exc}"
    return text


def misfit(exc: BaseException, path: str) -> str:
    """What did not fit, one problem per field, for an error message."""
    return "; ".join(cattrs.transform_error(exc, path=path, format_exception=_problem))


def _unfit(where: str, model: type, problems: str, payload: Any, text: str) -> LLMResponseError:
    return LLMResponseError(
        f"{where}: the reply does not fit {model.__name__} ({problems}); body: {snippet(text)}",
        body=payload,
    )


def _dump_message(message: Message | Mapping[str, Any]) -> dict[str, Any] | Mapping[str, Any]:
    if isinstance(message, Message):
        content = message.content
        if content is not None and not isinstance(content, str):
            content = _without_none(converter.unstructure(content))
        out: dict[str, Any] = {"role": message.role, "content": content}
        if message.name is not None:
            out["name"] = message.name
        if message.tool_calls is not None:
            out["tool_calls"] = converter.unstructure(message.tool_calls)
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
