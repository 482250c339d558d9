"""``fast_init``: positional builders of frozen attrs models, equal to ``__init__``'s."""

from __future__ import annotations

import pickle

import attrs
import pytest

from llmpipe._fast_init import fast_init, unfrozen
from llmpipe.wire.dump import dump_messages
from llmpipe.wire.models import ChatCompletionResponse, Message, Usage
from llmpipe.wire.models.extra import EMPTY


def test_a_built_model_equals_the_one_init_builds():
    build = fast_init(Message, "role", "content", "refusal")
    assert build("assistant", "hi", "no") == Message("assistant", "hi", refusal="no")


def test_fields_not_named_hold_their_defaults():
    usage = fast_init(Usage, "total_tokens")(7)
    assert (usage.prompt_tokens, usage.prompt_tokens_details, usage.extra) == (0, None, EMPTY)


def test_a_built_model_stays_frozen():
    reply = fast_init(ChatCompletionResponse, "choices")([])
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        reply.id = "changed"  # type: ignore[misc]


def test_a_field_with_a_factory_and_no_value_is_refused():
    @attrs.frozen
    class Holder:
        items: list[int] = attrs.field(factory=list)

    with pytest.raises(TypeError, match="items needs a value"):
        fast_init(Holder)


def test_a_field_with_a_converter_is_refused():
    @attrs.frozen
    class Holder:
        count: int = attrs.field(converter=int)

    with pytest.raises(TypeError, match="count has a converter"):
        fast_init(Holder, "count")


def test_an_unknown_field_name_is_refused():
    with pytest.raises(TypeError, match="no field"):
        fast_init(Message, "role", "colour")


def test_plain_dict_messages_are_sent_as_a_new_list_of_the_same_dicts():
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    dumped = dump_messages(messages)
    assert dumped is not messages
    assert all(a is b for a, b in zip(dumped, messages, strict=True))


def test_a_built_model_is_exactly_the_model_class_not_the_draft():
    built = fast_init(Message, "role", "content")("user", "hi")
    assert type(built) is Message
    assert pickle.loads(pickle.dumps(built)) == built
    assert repr(built) == repr(Message("user", "hi"))


def test_the_draft_class_takes_plain_stores_and_the_model_class_still_refuses_them():
    draft = object.__new__(unfrozen(Message))
    draft.role = "user"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Message("user").role = "assistant"  # type: ignore[misc]
    assert unfrozen(Message) is type(draft)  # made once per class


def test_unfrozen_refuses_a_class_without_slots():
    @attrs.frozen(slots=False)
    class Loose:
        count: int = 0

    with pytest.raises(TypeError, match="not an attrs class with slots"):
        unfrozen(Loose)


def test_a_dict_message_without_a_role_among_plain_ones_is_refused():
    messages = [{"role": "system", "content": "be brief"}, {"content": "hi"}]
    with pytest.raises(TypeError, match="each message must be a Message or a dict with a 'role'"):
        dump_messages(messages)


def test_a_dict_message_whose_role_is_not_text_is_refused():
    messages = [{"role": "system", "content": "be brief"}, {"role": 1, "content": "hi"}]
    with pytest.raises(TypeError, match="each message must be a Message or a dict with a 'role'"):
        dump_messages(messages)


def test_a_list_of_plain_dicts_and_messages_is_sent_as_dicts():
    messages = [{"role": "system", "content": "be brief"}, Message("user", "hi")]
    assert dump_messages(messages) == [messages[0], {"role": "user", "content": "hi"}]
