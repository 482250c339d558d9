"""Tool calls reassembled from the fragments a stream sends.

Servers fragment calls in different ways, and each must give whole calls:

- OpenAI: the first fragment of a call has ``index``, ``id`` and the name;
  the rest only ``index`` and a piece of the arguments; calls interleave.
- llama.cpp: every fragment repeats ``id``, ``type`` and the name.
- Ollama: each call whole in one fragment, all with ``index`` 0 (or none).

So a fragment continues the call of the same ``id`` if there is one, else
the current call at its ``index`` (the last call, without an index), unless
it brings a different ``id`` or a different name: then it starts a new call.
Names are never concatenated. Two whole calls of the same function with no
id are told apart by the first one's arguments being complete JSON already.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from llmpipe.wire.models import EMPTY, FunctionCall, ToolCall, ToolCallDelta

__all__ = ["CallAssembler", "fold_function_call"]


def _complete_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


class _Call:
    __slots__ = ("arguments", "extra", "function_extra", "id", "name", "type")

    def __init__(self) -> None:
        self.id = ""
        self.type = "function"
        self.name = ""
        self.arguments: list[str] = []
        self.extra: Mapping[str, Any] = EMPTY
        self.function_extra: Mapping[str, Any] = EMPTY

    def takes(self, delta: ToolCallDelta) -> bool:
        """Whether ``delta`` continues this call rather than starting another."""
        if delta.id and self.id and delta.id != self.id:
            return False
        function = delta.function
        if function is not None and function.name and self.name:
            if function.name != self.name:
                return False
            if not delta.id and function.arguments and self.arguments:
                return not _complete_json("".join(self.arguments))
        return True

    def add(self, delta: ToolCallDelta) -> None:
        if delta.id:
            self.id = delta.id
        if delta.type:
            self.type = delta.type
        if delta.extra:
            self.extra = {**self.extra, **delta.extra}
        function = delta.function
        if function is not None:
            if function.name and not self.name:
                self.name = function.name
            if function.arguments:
                self.arguments.append(function.arguments)
            if function.extra:
                self.function_extra = {**self.function_extra, **function.extra}

    def build(self) -> ToolCall:
        function = FunctionCall(
            name=self.name, arguments="".join(self.arguments), extra=self.function_extra
        )
        return ToolCall(id=self.id, type=self.type, function=function, extra=self.extra)


class CallAssembler:
    """The tool calls of one choice, in the order they began."""

    __slots__ = ("_by_id", "_by_index", "_calls")

    def __init__(self) -> None:
        self._calls: list[_Call] = []
        self._by_index: dict[int, _Call] = {}
        self._by_id: dict[str, _Call] = {}

    def __bool__(self) -> bool:
        return bool(self._calls)

    def add(self, delta: ToolCallDelta) -> None:
        call = self._call_for(delta)
        call.add(delta)
        if delta.index is not None:
            self._by_index[delta.index] = call
        if call.id:
            self._by_id[call.id] = call

    def _call_for(self, delta: ToolCallDelta) -> _Call:
        if delta.id:
            known = self._by_id.get(delta.id)
            if known is not None:
                return known
        if delta.index is None:
            current = self._calls[-1] if self._calls else None
        else:
            current = self._by_index.get(delta.index)
        if current is not None and current.takes(delta):
            return current
        call = _Call()
        self._calls.append(call)
        return call

    def build(self) -> list[ToolCall] | None:
        return [call.build() for call in self._calls] or None


def fold_function_call(old: Any, new: Any) -> Any:
    """The legacy ``function_call`` delta some proxies add: name kept, arguments joined."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    merged = {**old, **new}
    if old.get("name"):
        merged["name"] = old["name"]
    arguments = (old.get("arguments") or "", new.get("arguments") or "")
    if isinstance(arguments[0], str) and isinstance(arguments[1], str):
        merged["arguments"] = arguments[0] + arguments[1]
    return merged
