"""Structured output: every field type parses, schemas name classes apart, what
strict mode cannot take is sent non-strict, and a cut or refused reply says so."""

from __future__ import annotations

import enum
import json
from typing import Any

import attrs
import pytest

from llmpipe import IncompleteOutputError, LLMResponseError, RefusalError, json_schema
from llmpipe.testing import Fault
from llmpipe.wire.schema import loose_fields, parse_structured, response_format_for

ASK = [{"role": "user", "content": "give me JSON"}]


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen
class Flags:
    done: bool
    level: Level
    colour: Colour
    count: int


def parse(cls, payload):
    return parse_structured(json.dumps(payload), cls, "test")


def test_bool_int_enum_and_str_enum_fields_parse():
    flags = parse(Flags, {"done": True, "level": 2, "colour": "blue", "count": 3})
    assert flags == Flags(done=True, level=Level.HIGH, colour=Colour.BLUE, count=3)
    assert (type(flags.level), type(flags.colour)) == (Level, Colour)


def test_a_bool_field_refuses_a_number():
    with pytest.raises(LLMResponseError, match=r"Flags\.done"):
        parse(Flags, {"done": 1, "level": 1, "colour": "red", "count": 3})


def test_an_int_field_refuses_a_bool():
    with pytest.raises(LLMResponseError, match=r"Flags\.count"):
        parse(Flags, {"done": False, "level": 1, "colour": "red", "count": True})


def test_an_int_enum_field_refuses_a_value_outside_the_enum():
    with pytest.raises(LLMResponseError, match=r"Flags\.level"):
        parse(Flags, {"done": False, "level": 7, "colour": "red", "count": 1})


def _outer_with_two_items() -> type:
    """``Order`` holding two different classes that are both called ``Item``."""
    product = attrs.make_class("Item", {"name": attrs.field(type=str)}, frozen=True)
    line = attrs.make_class("Item", {"price": attrs.field(type=float)}, frozen=True)
    fields = {"product": attrs.field(type=product), "line": attrs.field(type=line)}
    return attrs.make_class("Order", fields, frozen=True)


def test_two_nested_classes_of_one_name_get_distinct_defs():
    schema = json_schema(_outer_with_two_items())
    refs = (schema["properties"]["product"]["$ref"], schema["properties"]["line"]["$ref"])
    assert refs == ("#/$defs/Item", "#/$defs/Item2")
    assert list(schema["$defs"]["Item2"]["properties"]) == ["price"]


@attrs.frozen
class Node:
    value: int
    children: list[Node]


def test_a_recursive_class_refers_to_itself():
    schema = json_schema(Node)
    assert schema["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}


@attrs.frozen
class Loose:
    scores: dict[str, int]
    anything: Any
    bag: list  # type: ignore[type-arg]
    pair: tuple[int, str]
    fine: tuple[int, ...]


def test_fields_strict_mode_cannot_express_are_named():
    assert loose_fields(Loose) == [
        "Loose.scores (a mapping)",
        "Loose.anything (Any)",
        "Loose.bag (a list of Any)",
        "Loose.pair (a fixed-length tuple)",
    ]


def test_a_class_strict_mode_cannot_express_is_sent_non_strict():
    assert response_format_for(Loose)["json_schema"]["strict"] is False


def test_a_class_strict_mode_can_express_is_sent_strict():
    assert response_format_for(Flags)["json_schema"]["strict"] is True


def test_sending_non_strict_warns_naming_the_fields():
    from loguru import logger

    import llmpipe

    seen: list[str] = []
    llmpipe.enable_logging("WARNING", sink=lambda m: seen.append(str(m)))
    try:
        response_format_for(Loose)
    finally:
        llmpipe.disable_logging()
        logger.remove()
    assert any("strict: false" in line and "Loose.scores" in line for line in seen)


def _reply(content: str | None, finish_reason: str = "stop", refusal: str | None = None):
    message = {"role": "assistant", "content": content, "refusal": refusal}
    return {"choices": [{"index": 0, "message": message, "finish_reason": finish_reason}]}


@pytest.mark.parametrize("reason", ["length", "content_filter"])
async def test_a_cut_reply_raises_incomplete_output_not_a_parse_error(llm_server, client, reason):
    llm_server.add_faults(Fault(body=_reply('{"done": tr', reason)))
    with pytest.raises(IncompleteOutputError, match=reason) as caught:
        await client.chat_completion(ASK, response_model=Flags)
    assert caught.value.finish_reason == reason


async def test_a_refusal_raises_refusal_error_with_the_model_s_words(llm_server, client):
    llm_server.add_faults(Fault(body=_reply(None, refusal="I can't help with that.")))
    with pytest.raises(RefusalError, match="refused") as caught:
        await client.chat_completion(ASK, response_model=Flags)
    assert caught.value.refusal == "I can't help with that."


async def test_a_cut_reply_counts_as_a_response_error_too(llm_server, client):
    llm_server.add_faults(Fault(body=_reply('{"done"', "length")))
    with pytest.raises(LLMResponseError):
        await client.chat_completion(ASK, response_model=Flags)


async def test_the_bundled_server_answers_a_bool_and_enum_class(client):
    flags = await client.chat_completion(ASK, response_model=Flags)
    assert isinstance(flags, Flags)
