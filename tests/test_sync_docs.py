"""The sync ``LLM`` documents itself: help(LLM.x) explains x and names its return type."""

from __future__ import annotations

import inspect
import types
import typing

from llmpipe import LLM, LLMConfig
from llmpipe.testing import LLMServer
from tests.typecheck import sync_usage


def public_members() -> dict[str, object]:
    return {
        name: member
        for name, member in vars(LLM).items()
        if not name.startswith("_") and isinstance(member, (property, types.FunctionType))
    }


def test_every_public_method_and_property_has_a_docstring_of_its_own() -> None:
    undocumented = [
        name
        for name, member in public_members().items()
        if not inspect.getdoc(member) or "see ``AsyncLLM" in (inspect.getdoc(member) or "")
    ]
    assert undocumented == []


def test_no_public_method_declares_any_as_its_return_type() -> None:
    returning_any = [
        name
        for name, member in public_members().items()
        if isinstance(member, types.FunctionType)
        for signature in (member, *typing.get_overloads(member))
        if inspect.signature(signature).return_annotation in ("Any", typing.Any)
    ]
    assert returning_any == []


def test_the_typed_usage_file_runs_against_the_bundled_server(llm_server: LLMServer) -> None:
    with LLM(LLMConfig(base_url=llm_server.base_url)) as llm:
        text = sync_usage.chat(llm)
        collected = sync_usage.chat_stream(llm)
        completed = sync_usage.completion(llm)
        models = sync_usage.other_calls(llm)
    assert text == "Echo: Hi"
    assert collected.choices[0].message.text == "Echo: Hi"
    assert completed.choices[0].text == " Echo: Once upon a time"
    assert "gpt-4" in models
