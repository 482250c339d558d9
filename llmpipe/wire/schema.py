"""Structured output: a JSON schema derived from an attrs class, and the
model's JSON reply structured back into an instance.

The schema follows what OpenAI's strict ``json_schema`` mode accepts: every
object lists all its properties as required and forbids others; optional
fields are ``anyOf [..., null]``. Nested attrs classes go to ``$defs``.
"""

from __future__ import annotations

import enum
import json
import re
import types
import typing
from typing import Any, TypeVar

import attrs

from llmpipe.errors import LLMResponseError, snippet
from llmpipe.wire.convert import converter, misfit

__all__ = ["json_schema", "parse_structured", "response_format_for"]

T = TypeVar("T")

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    Any: {},
}
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def json_schema(cls: type) -> dict[str, Any]:
    """The JSON schema of an attrs class (nested classes under ``$defs``)."""
    if not attrs.has(cls):
        raise TypeError(f"response_model must be an attrs class, got {cls!r}")
    defs: dict[str, Any] = {}
    schema = _object(cls, defs)
    if defs:
        schema["$defs"] = defs
    return schema


def response_format_for(cls: type) -> dict[str, Any]:
    """The ``response_format`` body field asking for ``cls`` as strict JSON."""
    return {
        "type": "json_schema",
        "json_schema": {"name": cls.__name__, "schema": json_schema(cls), "strict": True},
    }


def _object(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    fields = attrs.fields(cls)
    return {
        "type": "object",
        "properties": {f.name: _schema(hints[f.name], defs) for f in fields},
        "required": [f.name for f in fields],
        "additionalProperties": False,
    }


def _schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    if tp in _SCALARS:
        return dict(_SCALARS[tp])
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum([member.value for member in tp])
    if isinstance(tp, type) and attrs.has(tp):
        if tp.__name__ not in defs:
            defs[tp.__name__] = {}  # placeholder: recursion-safe
            defs[tp.__name__] = _object(tp, defs)
        return {"$ref": f"#/$defs/{tp.__name__}"}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return _enum(list(args))
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_schema(arg, defs) for arg in args]}
    if origin in (list, set, frozenset, tuple) or tp in (list, set, frozenset, tuple):
        item = args[0] if args else Any
        return {"type": "array", "items": _schema(item, defs)}
    if origin is dict or tp is dict:
        value = args[1] if len(args) == 2 else Any
        return {"type": "object", "additionalProperties": _schema(value, defs)}
    raise TypeError(f"cannot describe {tp!r} in a JSON schema for structured output")


def _enum(values: list[Any]) -> dict[str, Any]:
    kinds = {type(v) for v in values}
    schema: dict[str, Any] = {"enum": values}
    if len(kinds) == 1:
        schema.update(_SCALARS.get(kinds.pop(), {}))
    return schema


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
