"""Tool calls: which tools a chat request lets the model call, and the calls made.

With `tools` in the request and `tool_choice` not "none", the reply calls:

- the tool named by `tool_choice={"type": "function", "function": {"name": X}}`;
- otherwise ("auto", "required" or absent) every tool, in order, unless
  `parallel_tool_calls` is false, when only the first.

Each call has the id `call_<i>` (`i` its position in the reply, as in the
streamed `index`) and as `arguments` the compact JSON of the example instance
of the tool's `parameters` schema (`_schema`); "{}" for a tool without one.
Requests the OpenAI API refuses are refused the same way, with a 400 naming
the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._api_error import ApiError
from ._schema import SchemaError, example

__all__ = ["tool_calls"]


def tool_calls(request: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The calls to answer with; [] when there are no tools or tool_choice is "none"."""
    functions = _functions(request)
    choice = request.get("tool_choice")
    if not functions:
        if choice is not None:
            raise ApiError(
                400, "'tool_choice' is only allowed when 'tools' are given.", param="tool_choice"
            )
        return []
    parallel = request.get("parallel_tool_calls", True)
    if parallel is not None and not isinstance(parallel, bool):
        raise ApiError(400, "'parallel_tool_calls' must be a boolean.", param="parallel_tool_calls")
    chosen = _choose(functions, choice, parallel is not False)
    return [_call(i, position, functions[position]) for i, position in enumerate(chosen)]


def _functions(request: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The `function` object of each tool, checked; [] when `tools` is absent."""
    tools = request.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list) or not tools:
        raise ApiError(400, "'tools' must be a non-empty array.", param="tools")
    functions = []
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if (
            not isinstance(tool, Mapping)
            or tool.get("type") != "function"
            or not isinstance(function, Mapping)
            or not isinstance(function.get("name"), str)
            or not function["name"]
            or not isinstance(function.get("parameters", {}), Mapping)
        ):
            raise ApiError(
                400,
                "Each tool must be {'type': 'function', 'function': {'name': ..., "
                "'parameters': {...}}}.",
                param=f"tools.{i}",
            )
        functions.append(function)
    return functions


def _choose(functions: list[Mapping[str, Any]], choice: Any, parallel: bool) -> list[int]:
    """The positions in `tools` of the tools to call."""
    if choice == "none":
        return []
    if choice in (None, "auto", "required"):
        return list(range(len(functions))) if parallel else [0]
    name = None
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        named = choice.get("function")
        name = named.get("name") if isinstance(named, Mapping) else None
    for position, function in enumerate(functions):
        if name is not None and function["name"] == name:
            return [position]
    raise ApiError(
        400,
        "'tool_choice' must be 'none', 'auto', 'required' or name one of the tools.",
        param="tool_choice",
    )


def _call(index: int, position: int, function: Mapping[str, Any]) -> dict[str, Any]:
    try:
        arguments = example(function.get("parameters", {"type": "object"}))
    except SchemaError as exc:
        raise ApiError(
            400,
            f"Invalid schema for function '{function['name']}': {exc}",
            param=f"tools.{position}.function.parameters",
        ) from exc
    return {
        "id": f"call_{index}",
        "type": "function",
        "function": {
            "name": function["name"],
            "arguments": json.dumps(arguments, separators=(",", ":"), ensure_ascii=False),
        },
    }
