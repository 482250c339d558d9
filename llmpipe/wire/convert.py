"""The one cattrs converter: every JSON wire rule of llmpipe lives here.

Replies are read leniently and losslessly: absent optional fields default,
and keys a model does not know are kept in its ``extra`` (unstructuring puts
them back, so a reply round-trips to the JSON it came from). What callers
build is checked strictly (a message dict needs a role). A reply that cannot
be structured becomes ``LLMResponseError`` naming the field.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

from llmpipe.errors import LLMResponseError, snippet
from llmpipe.request import LLMResponse
from llmpipe.wire.fastpath import FAST_BUILDERS, NotPlain
from llmpipe.wire.models import (
    ChatCompletionChunk,
    ChatCompletionResponse,
    CompletionResponse,
    CompletionTokensDetails,
    ImagePart,
    MessageContent,
    PromptTokensDetails,
    TextPart,
)
from llmpipe.wire.models.extra import set_extra
from llmpipe.wire.models.http import HTTPInfo
from llmpipe.wire.vendor import usage_of

__all__ = ["converter", "misfit", "structure_payload", "structure_reply"]

T = TypeVar("T")

_attach = object.__setattr__
converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)


def _strict_str(value: Any, cls: type) -> Any:
    """Reject objects where text belongs; numbers are servers' harmless quirks."""
    if cls is not str and issubclass(cls, enum.Enum):
        return cls(value)  # a str-valued enum (StrEnum): str's hook is found first
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {type(value).__name__}")


def _strict_int(value: Any, cls: type) -> Any:
    if cls is not int and issubclass(cls, enum.Enum):
        return cls(value)  # IntEnum, IntFlag: int's hook is found first
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


def _strict_bool(value: Any, _: type) -> bool:
    """Only JSON true and false: ``bool`` is an ``int`` to Python, not to JSON."""
    if isinstance(value, bool):
        return value
    raise ValueError(f"expected true or false, got {value!r}")


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
converter.register_structure_hook(bool, _strict_bool)
converter.register_structure_hook(MessageContent, _structure_content)
converter.register_structure_hook(list[float] | str, _structure_vector)


# -- extra fields ---------------------------------------------------------

_NULL_MEANS_ZERO = (
    PromptTokensDetails,
    CompletionTokensDetails,
)  # servers send "audio_tokens": null
_VENDOR_USAGE = (ChatCompletionResponse, ChatCompletionChunk, CompletionResponse)


def _keeps_extra(cls: Any) -> bool:
    return attrs.has(cls) and "extra" in attrs.fields_dict(cls)


def _wire_names(cls: type) -> frozenset[str]:
    return frozenset(a.name for a in attrs.fields(cls) if a.init and a.name != "extra")


def _structure_keeping_extra(cls: type) -> Callable[[Any, Any], Any]:
    """Structure the modelled keys as usual; the others go to ``extra``, as sent."""
    base: Callable[[Any, Any], Any] = make_dict_structure_fn(
        cls, converter, extra=override(omit=True)
    )
    names = _wire_names(cls)
    null_means_zero = cls in _NULL_MEANS_ZERO
    vendor_usage = cls in _VENDOR_USAGE

    def structure(value: Any, _: Any) -> Any:
        if null_means_zero and isinstance(value, dict):
            value = {k: v for k, v in value.items() if v is not None}
        elif vendor_usage and isinstance(value, dict) and value.get("usage") is None:
            usage = usage_of(value)
            if usage is not None:
                value = {**value, "usage": usage}
        model = base(value, cls)
        if not value.keys() <= names:
            set_extra(model, {k: v for k, v in value.items() if k not in names})
        return model

    return structure


def _unstructure_with_extra(cls: type) -> Callable[[Any], Any]:
    """The wire JSON again: modelled fields, then the extra keys they do not shadow."""
    skip: dict[str, Any] = {
        a.name: override(omit=True) for a in attrs.fields(cls) if a.name in ("extra", "http")
    }
    base: Callable[[Any], Any] = make_dict_unstructure_fn(cls, converter, **skip)

    def unstructure(model: Any) -> Any:
        out = base(model)
        for key, value in model.extra.items():
            out.setdefault(key, value)
        return out

    return unstructure


converter.register_structure_hook_factory(_keeps_extra, _structure_keeping_extra)
converter.register_unstructure_hook_factory(_keeps_extra, _unstructure_with_extra)


# -- replies --------------------------------------------------------------


def structure_reply(response: LLMResponse, model: type[T], http: HTTPInfo | None = None) -> T:
    """Structure a 2xx reply's JSON into ``model`` or raise ``LLMResponseError``;
    ``http`` (for a model with an ``http`` field) is set on the model built.

    ``structure_payload``'s steps, written out: every non-streamed call comes
    here, and delegating would cost a call and a bound ``response.text``."""
    payload = response.json()
    fast = FAST_BUILDERS.get(model)
    if fast is not None and type(payload) is dict:
        try:
            return fast(payload) if http is None else fast(payload, http)  # type: ignore[no-any-return]
        except NotPlain:
            pass
    result = _with_cattrs(payload, model, response.request.endpoint, response.text)
    if http is not None:
        _attach(result, "http", http)  # frozen to its users
    return result


def structure_payload(payload: Any, model: type[T], where: str, text: Callable[[], str]) -> T:
    """Structure decoded JSON into ``model``; ``text`` gives the raw body for messages."""
    fast = FAST_BUILDERS.get(model)
    if fast is not None and type(payload) is dict:
        try:
            return fast(payload)  # type: ignore[no-any-return]
        except NotPlain:
            pass
    return _with_cattrs(payload, model, where, text)


def _with_cattrs(payload: Any, model: type[T], where: str, text: Callable[[], str]) -> T:
    """cattrs' structuring, for every shape the fast path does not take."""
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
