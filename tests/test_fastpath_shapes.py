"""The fast path's readers compiled per key set (``wire/_shapes.py``).

A reader is compiled for the first object with a new key set and reused for
the next ones with the same keys; these tests pin what makes that safe: the
types are checked on every reply, key sets of one length never borrow each
other's reader, a level keeps a bounded number of them, and keys from the wire
are data, never code.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from llmpipe import ChatCompletionResponse
from llmpipe.wire._shapes import KEY_SETS_KEPT, KEYS_COMPILED, SHARED_KEPT, Level, Rule
from llmpipe.wire.convert import converter, structure_payload
from llmpipe.wire.fastpath import FAST_BUILDERS, LEVELS, NotPlain
from llmpipe.wire.models import Message, PromptTokensDetails

fast_chat = FAST_BUILDERS[ChatCompletionResponse]


@pytest.fixture(autouse=True)
def _fresh_levels():
    for level in LEVELS:
        level.forget()


def _level(cls: type) -> Level:
    (level,) = [level for level in LEVELS if level.cls is cls]
    return level


def _reply(message: dict[str, Any], **choice: Any) -> dict[str, Any]:
    return {"id": "c1", "choices": [{"index": 0, "message": message, **choice}]}


def _both(payload: dict[str, Any]) -> tuple[Any, Any]:
    return fast_chat(payload), converter.structure(payload, ChatCompletionResponse)


def test_a_known_key_set_with_a_value_of_another_type_steps_aside():
    message = {"role": "assistant", "content": "hi"}
    fast_chat(_reply(message, index=0))
    with pytest.raises(NotPlain):
        fast_chat(_reply(message, index="0"))
    fast, general = _both(_reply(message, index=1))
    assert fast == general


def test_key_sets_of_one_length_each_get_their_own_reader():
    first, second = _both(_reply({"role": "assistant", "content": "hi"}))
    third, fourth = _both(_reply({"role": "assistant", "refusal": "no"}))
    assert (first, third) == (second, fourth)
    assert third.choices[0].message.refusal == "no"


def test_a_key_set_without_a_role_does_not_turn_away_one_of_its_length_with_a_role():
    with pytest.raises(NotPlain):
        fast_chat(_reply({"content": "hi", "x_vendor": 1}))
    fast, general = _both(_reply({"role": "assistant", "content": "hi"}))
    assert fast == general


def test_the_same_keys_in_another_order_keep_their_unknown_keys_in_the_order_sent():
    fast_chat(_reply({"role": "assistant", "b": 1, "a": 2}))
    reply = fast_chat(_reply({"a": 2, "b": 1, "role": "assistant"}))
    assert list(reply.choices[0].message.extra) == ["a", "b"]


def test_a_level_keeps_a_bounded_number_of_key_sets_then_steps_aside():
    def reply(n: int) -> dict[str, Any]:
        return _reply({"role": "assistant", f"x_{n}": n})

    for n in range(KEY_SETS_KEPT):
        fast_chat(reply(n))
    with pytest.raises(NotPlain):
        fast_chat(reply(KEY_SETS_KEPT))
    assert _level(Message).count == KEY_SETS_KEPT
    late = reply(KEY_SETS_KEPT)
    built = structure_payload(late, ChatCompletionResponse, "chat/completions", lambda: "")
    assert built == converter.structure(late, ChatCompletionResponse)
    assert fast_chat(reply(0)).choices[0].message.extra == {"x_0": 0}


def test_an_object_with_very_many_keys_steps_aside_uncompiled():
    message = {"role": "assistant", **{f"x_{n}": n for n in range(KEYS_COMPILED)}}
    with pytest.raises(NotPlain):
        fast_chat(_reply(message))
    assert _level(Message).count == 0


def test_keys_from_the_wire_are_kept_as_data_never_run_as_code():
    odd = ["x']\n    raise SystemExit(1)\n#", "v0", "d", "_k0", "obj", "_NotPlain", "read"]
    message = {"role": "assistant", **{key: key for key in odd}}
    fast, general = _both(_reply(message))
    assert fast == general
    assert dict(fast.choices[0].message.extra) == {key: key for key in odd}


def test_equal_token_details_are_one_shared_model():
    def details(cached: int) -> Any:
        usage = {"prompt_tokens": 1, "prompt_tokens_details": {"cached_tokens": cached}}
        return fast_chat({**_reply({"role": "assistant"}), "usage": usage}).usage

    assert details(3).prompt_tokens_details is details(3).prompt_tokens_details
    assert details(4).prompt_tokens_details == PromptTokensDetails(cached_tokens=4)


def test_a_reader_shares_a_bounded_number_of_models():
    for n in range(SHARED_KEPT + 10):
        details = _level(PromptTokensDetails).read({"cached_tokens": n})
        assert details == PromptTokensDetails(cached_tokens=n)
    (reader,) = _level(PromptTokensDetails).readers[1]
    assert len(reader.__globals__["_shared"]) == SHARED_KEPT


def test_token_details_with_a_key_no_model_knows_step_aside():
    usage = {"prompt_tokens_details": {"cached_tokens": 1, "x_vendor": 2}}
    with pytest.raises(NotPlain):
        fast_chat({**_reply({"role": "assistant"}), "usage": usage})


def test_a_level_whose_model_gained_a_field_without_a_rule_fails_when_built():
    @attrs.frozen
    class Grown:
        a: int = 0
        b: int = 0

    with pytest.raises(TypeError, match="update its rules"):
        Level(Grown, {"a": Rule()}, {})


def _outcome(read: Any, value: Any) -> Any:
    try:
        return read(value)
    except NotPlain:
        return NotPlain


@pytest.mark.parametrize(
    "value",
    [
        {"role": "user", "content": "hi"},  # the entry's own key set
        {"role": "user", "refusal": "no"},  # another key set of its length
        {"role": "user"},  # another length
        {"role": "user", "content": "hi", "name": "x"},  # another length, then again
        {"role": 1, "content": "hi"},  # its key set, not plain
        None,
        "text",
    ],
)
def test_a_level_entry_answers_as_its_dispatcher_for_any_value(value):
    level = _level(Message)
    level.read({"role": "assistant", "content": "first"})  # compiles the entry
    assert level.entry is not level.read
    assert _outcome(level.entry, value) == _outcome(level.read, value)
    assert _outcome(level.entry, value) == _outcome(level.read, value)


def test_a_forgotten_level_calls_its_dispatcher_again():
    level = _level(Message)
    level.read({"role": "assistant", "content": "first"})
    level.forget()
    assert level.entry is level.read
