"""Structured output: a JSON schema derived from an attrs class, and the
model's JSON reply structured back into an instance.

The schema follows what OpenAI's strict ``json_schema`` mode accepts: every
object lists all its properties as required and forbids others; optional
fields are ``anyOf [..., null]``; nested attrs classes go to ``$defs``, two
different classes of one name under distinct names (``Item``, ``Item2``).

Some field types strict mode cannot express: a mapping (``dict[str, X]``),
``Any``, a bare ``list``, a fixed-length ``tuple``. A class using one is
still sent, with ``strict: false`` (a server then treats the schema as a
guide rather than a guarantee), and a warning names the fields. Before the
reply is parsed, a refusal raises ``RefusalError`` and a reply cut short
(``finish_reason`` "length" or "content_filter") ``IncompleteOutputError``:
both say so rather than fail as JSON.
"""

from __future__ import annotations

import enum
import json
import re
import types
import typing
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from llmpipe import logs
from llmpipe.errors import IncompleteOutputError, LLMResponseError, RefusalError, snippet
from llmpipe.wire.convert import converter, misfit

if TYPE_CHECKING:
    from llmpipe.wire.models import ChatCompletionResponse

__all__ = [
    "json_schema",
    "loose_fields",
    "parse_structured",
    "response_format_for",
    "structured_reply",
]

T = TypeVar("T")

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
}
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_CUT = ("length", "content_filter")
_LOOSE_MESSAGE = (
    "structured output for {model}: strict mode cannot express {fields}; sending strict: false"
)


class _Schema:
    """One schema being built: its ``$defs`` and the fields strict mode cannot take."""

    def __init__(self) -> None:
        self.defs: dict[str, Any] = {}
        self.names: dict[type, str] = {}
        self.loose: list[str] = []

    def object(self, cls: type, path: str) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        fields = attrs.fields(cls)
        return {
            "type": "object",
            "properties": {f.name: self.of(hints[f.name], f"{path}.{f.name}") for f in fields},
            "required": [f.name for f in fields],
            "additionalProperties": False,
        }

    def of(self, tp: Any, path: str) -> dict[str, Any]:
        if tp in _SCALARS:
            return dict(_SCALARS[tp])
        if tp is Any:
            self.loose.append(f"{path} (Any)")
            return {}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return _enum([member.value for member in tp])
        if isinstance(tp, type) and attrs.has(tp):
            return {"$ref": f"#/$defs/{self._define(tp)}"}
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is typing.Literal:
            return _enum(list(args))
        if origin in (typing.Union, types.UnionType):
            return {"anyOf": [self.of(arg, path) for arg in args]}
        if origin is tuple and args and args[-1] is not Ellipsis:
            self.loose.append(f"{path} (a fixed-length tuple)")
            items = [self.of(arg, f"{path}[{i}]") for i, arg in enumerate(args)]
            return {"type": "array", "prefixItems": items, "minItems": len(items)}
        if origin in (list, set, frozenset, tuple) or tp in (list, set, frozenset, tuple):
            if not args:
                self.loose.append(f"{path} (a list of Any)")
                return {"type": "array", "items": {}}
            return {"type": "array", "items": self.of(args[0], f"{path}[]")}
        if origin is dict or tp is dict:
            self.loose.append(f"{path} (a mapping)")
            value = self.of(args[1], f"{path}{{}}") if len(args) == 2 else {}
            return {"type": "object", "additionalProperties": value}
        raise TypeError(f"cannot describe {path} ({tp!r}) in a JSON schema for structured output")

    def _define(self, cls: type) -> str:
        name = self.names.get(cls)
        if name is None:
            name, number = cls.__name__, 1
            while name in self.defs:
                number += 1
                name = f"{cls.__name__}{number}"
            self.names[cls] = name
            self.defs[name] = {}  # placeholder: recursion-safe
            self.defs[name] = self.object(cls, cls.__name__)
        return name


def _build(cls: type) -> tuple[dict[str, Any], list[str]]:
    if not attrs.has(cls):
        raise TypeError(f"response_model must be an attrs class, got {cls!r}")
    builder = _Schema()
    schema = builder.object(cls, cls.__name__)
    if builder.defs:
        schema["$defs"] = builder.defs
    return schema, builder.loose


def json_schema(cls: type) -> dict[str, Any]:
    """The JSON schema of an attrs class (nested classes under ``$defs``)."""
    return _build(cls)[0]


def loose_fields(cls: type) -> list[str]:
    """The fields of ``cls`` (and of the classes it nests) strict mode cannot express."""
    return _build(cls)[1]


def response_format_for(cls: type) -> dict[str, Any]:
    """The ``response_format`` body field asking for ``cls`` as JSON: strict when it can be."""
    schema, loose = _build(cls)
    if loose:
        logs.warning(_LOOSE_MESSAGE, model=cls.__name__, fields=", ".join(loose))
    return {
        "type": "json_schema",
        "json_schema": {"name": cls.__name__, "schema": schema, "strict": not loose},
    }


def _enum(values: list[Any]) -> dict[str, Any]:
    kinds = {type(v) for v in values}
    schema: dict[str, Any] = {"enum": values}
    if len(kinds) == 1:
        schema.update(_SCALARS.get(kinds.pop(), {}))
    return schema


def structured_reply(reply: ChatCompletionResponse, cls: type[T], where: str) -> T:
    """The first choice of ``reply`` as ``cls``, or the typed error saying why not."""
    if not reply.choices:
        raise LLMResponseError(f"{where}: the reply has no choices to parse", body=reply)
    choice = reply.choices[0]
    message = choice.message
    if message.refusal:
        raise RefusalError(
            f"{where}: the model refused to answer as {cls.__name__}: {snippet(message.refusal)}",
            refusal=message.refusal,
            reply=reply,
        )
    if choice.finish_reason in _CUT:
        why = "hit the token limit" if choice.finish_reason == "length" else "was filtered"
        raise IncompleteOutputError(
            f"{where}: the reply {why} (finish_reason {choice.finish_reason!r}) before its "
            f"JSON for {cls.__name__} was complete; text: {snippet(message.text)}",
            finish_reason=choice.finish_reason,
            reply=reply,
        )
    return parse_structured(message.text, cls, where)


def parse_structured(text: str | None, cls: type[T], where: str) -> T:
    """Structure the model's JSON reply into ``cls``, or say exactly what did not fit."""
    if not text:
        raise LLMResponseError(f"{where}: the model returned no content to parse as {cls.__name__}")
    fenced = _FENCE.match(text)  # some models wrap JSON in a Markdown fence
    source = fenced.group(1) if fenced else text
    try:
        data = json.loads(source)
    except ValueError as exc:
        raise LLMResponseError(
            f"{where}: the reply is not JSON for {cls.__name__} ({exc}); text: {snippet(text)}",
            body=text,
        ) from exc
    try:
        return converter.structure(data, cls)
    except Exception as exc:  # cattrs' errors, all meaning "does not fit"
        problems = misfit(exc, cls.__name__)
        raise LLMResponseError(
            f"{where}: the reply does not fit {cls.__name__} ({problems}); text: {snippet(text)}",
            body=text,
        ) from exc
