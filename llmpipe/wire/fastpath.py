"""Hand-written structuring for the replies on the hot path.

cattrs handles every shape and explains every misfit, at a few microseconds
a reply. Most replies have one plain shape, so these builders take that
shape directly and bail out (``NotPlain``) on anything else: tool calls,
content parts, an unexpected type, a value the model would reject (an empty
role). The caller then uses cattrs, which gives the same result or the
detailed error. "The same result" is a contract, not a hope:
``tests/test_fastpath.py`` compares the two paths on generated replies,
unknown keys (kept in ``extra``) included.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import filterfalse
from typing import Any

import attrs

from llmpipe._fast_init import fast_init, unfrozen
from llmpipe.wire.models import (
    EMPTY,
    ChatChoice,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ChunkChoice,
    CompletionChoice,
    CompletionResponse,
    CompletionTokensDetails,
    Delta,
    Message,
    PromptTokensDetails,
    Usage,
)
from llmpipe.wire.vendor import usage_of

__all__ = ["FAST_BUILDERS", "NotPlain"]


class NotPlain(Exception):
    """The payload is not the plain shape: let cattrs structure it."""


def _names(cls: type) -> frozenset[str]:
    return frozenset(a.name for a in attrs.fields(cls) if a.init and a.name != "extra")


_CHAT = _names(ChatCompletionResponse)
_CHUNK = _names(ChatCompletionChunk)
_COMPLETION = _names(CompletionResponse)
_CHAT_CHOICE = _names(ChatChoice)
_CHUNK_CHOICE = _names(ChunkChoice)
_COMPLETION_CHOICE = _names(CompletionChoice)
_MESSAGE = _names(Message)
_DELTA = _names(Delta)
_USAGE = _names(Usage)
_PROMPT_DETAILS = _names(PromptTokensDetails)
_COMPLETION_DETAILS = _names(CompletionTokensDetails)


def _extra(value: dict[str, Any], names: frozenset[str]) -> Mapping[str, Any]:
    """The keys the model does not know, in the order sent. Callers test
    ``value.keys() <= names`` first, inline: the plain shape, with none, then
    costs no call. (The known keys are skipped in C: only the unknown ones,
    usually one, take a step of the comprehension each.)"""
    return {key: value[key] for key in filterfalse(names.__contains__, value)}


_DICT = frozenset({dict})
_OPTIONAL_TEXT = frozenset({str, type(None)})


# Positional builders (see ``_fast_init``): every value below is checked before
# it is passed, and a field that is not passed keeps its default.
_new_usage = fast_init(
    Usage,
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
    "extra",
)
_new_message = fast_init(Message, "role", "content", "name", "tool_call_id", "refusal", "extra")
"""(``_message`` passes the four optional texts in this order, as one tuple.)"""
_HEADER = ("id", "object", "created", "model", "usage", "system_fingerprint", "extra")
_CHOICE = ("index", "finish_reason", "logprobs", "extra")
_new_chat = fast_init(ChatCompletionResponse, "choices", *_HEADER)
_new_completion = fast_init(CompletionResponse, "choices", *_HEADER)
_new_chat_choice = fast_init(ChatChoice, "message", *_CHOICE)
_new_completion_choice = fast_init(CompletionChoice, "text", *_CHOICE)


_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")
_ZEROS = (0, 0, 0)
_DETAILS_KEYS = ("prompt_tokens_details", "completion_tokens_details")
_INTS = (int, int, int)


def _usage(value: Any) -> Usage | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise NotPlain
    get = value.get
    counts = (*map(get, _USAGE_KEYS, _ZEROS),)  # the gets in C, not a call each
    if (*map(type, counts),) != _INTS:
        raise NotPlain
    prompt_details, completion_details = map(get, _DETAILS_KEYS)
    if prompt_details is not None:
        prompt_details = _details(prompt_details, PromptTokensDetails, _PROMPT_DETAILS)
    if completion_details is not None:
        completion_details = _details(
            completion_details, CompletionTokensDetails, _COMPLETION_DETAILS
        )
    return _new_usage(  # type: ignore[no-any-return]
        *counts,
        prompt_details,
        completion_details,
        EMPTY if value.keys() <= _USAGE else _extra(value, _USAGE),
    )


_DETAILS: dict[tuple[Any, ...], Any] = {}
_DETAILS_KEPT = 256


def _details(value: Any, cls: type[Any], names: frozenset[str]) -> Any:
    """Token details: known keys with int counts; the rest (nulls, extras) is cattrs'.

    The same few details come back reply after reply (OpenAI's are mostly
    zeros), and the models are frozen: built ones are shared. The key holds
    the values' types too (``0 == False == 0.0``), so a key found is a shape
    already checked, and the checks run only for a new one.
    """
    if type(value) is not dict:
        raise NotPlain
    key = (cls, *value.items(), *map(type, value.values()))
    try:
        details = _DETAILS.get(key)
    except TypeError:  # a value that does not hash (a list, a dict): not a count
        raise NotPlain from None
    if details is None:
        if not value.keys() <= names or {*map(type, value.values())} - {int}:
            raise NotPlain
        details = cls(**value)
        if len(_DETAILS) < _DETAILS_KEPT:
            _DETAILS[key] = details
    return details


_TOP_KEYS = ("id", "object", "created", "model")
_TOP_TYPES = (str, str, int, str)
_TOP_DEFAULTS: dict[str, tuple[Any, ...]] = {}


def _header(payload: dict[str, Any], kind: str, names: frozenset[str]) -> tuple[Any, ...]:
    """The top-level fields every reply shares, in ``_HEADER`` order."""
    get = payload.get
    defaults = _TOP_DEFAULTS.get(kind)
    if defaults is None:
        defaults = _TOP_DEFAULTS[kind] = ("", kind, 0, "")
    top = (*map(get, _TOP_KEYS, defaults),)
    fingerprint = get("system_fingerprint")
    if (*map(type, top),) != _TOP_TYPES or (
        fingerprint is not None and type(fingerprint) is not str
    ):
        raise NotPlain
    usage = get("usage")
    return (
        *top,
        _usage(usage if usage is not None else usage_of(payload)),
        fingerprint,
        EMPTY if payload.keys() <= names else _extra(payload, names),
    )


_CHOICE_KEYS = ("index", "finish_reason", "logprobs")
_CHOICE_DEFAULTS = (0, None, None)


def _choice(choice: Any, names: frozenset[str]) -> tuple[Any, ...]:
    """A choice's common fields, in ``_CHOICE`` order."""
    index, finish_reason, logprobs = map(choice.get, _CHOICE_KEYS, _CHOICE_DEFAULTS)
    if type(index) is not int or (finish_reason is not None and type(finish_reason) is not str):
        raise NotPlain
    return (
        index,
        finish_reason,
        logprobs,
        EMPTY if choice.keys() <= names else _extra(choice, names),
    )


def _choices(payload: dict[str, Any]) -> list[Any]:
    choices = payload.get("choices")
    if type(choices) is not list or (choices and {*map(type, choices)} != _DICT):
        raise NotPlain
    return choices


_MESSAGE_KEYS = ("tool_calls", "role", "content", "name", "tool_call_id", "refusal")


def _message(value: Any) -> Message:
    if type(value) is not dict:
        raise NotPlain
    tool_calls, role, *texts = map(value.get, _MESSAGE_KEYS)
    if tool_calls is not None:
        raise NotPlain  # tool calls (even an empty list): cattrs
    if type(role) is not str or not role:
        raise NotPlain  # cattrs explains what is wrong with it
    if not {*map(type, texts)} <= _OPTIONAL_TEXT:
        raise NotPlain
    return _new_message(  # type: ignore[no-any-return]
        role,
        *texts,
        EMPTY if value.keys() <= _MESSAGE else _extra(value, _MESSAGE),
    )


def chat(payload: dict[str, Any]) -> ChatCompletionResponse:
    choices = [
        _new_chat_choice(_message(c.get("message")), *_choice(c, _CHAT_CHOICE))
        for c in _choices(payload)
    ]
    return _new_chat(choices, *_header(payload, "chat.completion", _CHAT))  # type: ignore[no-any-return]


def _checked(cls: type, names: str) -> type:
    """``unfrozen(cls)``, for a builder below that stores each of ``names`` by hand.

    A stream structures a chunk per event, three objects each, so those builders
    store the fields inline instead of calling a ``fast_init`` function. Only
    for a model whose ``__init__`` just stores its arguments: checked here, so a
    field added to the model, or a validator, fails at import instead of being
    skipped.
    """
    fields = attrs.fields(cls)
    if sorted(a.name for a in fields) != sorted(names.split()) or any(
        a.validator or a.converter or not a.init for a in fields
    ):
        raise TypeError(f"fastpath: {cls.__name__} changed; update its builder")
    return unfrozen(cls)


_new = object.__new__
_DeltaDraft = _checked(Delta, "role content tool_calls refusal extra")
_ChoiceDraft = _checked(ChunkChoice, "delta index finish_reason logprobs extra")
_ChunkDraft = _checked(
    ChatCompletionChunk, "choices id object created model usage system_fingerprint extra"
)


def _delta(value: Any) -> Delta:
    if type(value) is not dict or value.get("tool_calls") is not None:
        raise NotPlain
    get = value.get
    role, content, refusal = get("role"), get("content"), get("refusal")
    if (
        (role is not None and type(role) is not str)
        or (content is not None and type(content) is not str)
        or (refusal is not None and type(refusal) is not str)
    ):
        raise NotPlain
    delta: Any = _new(_DeltaDraft)
    delta.role = role
    delta.content = content
    delta.tool_calls = None
    delta.refusal = refusal
    delta.extra = EMPTY if value.keys() <= _DELTA else _extra(value, _DELTA)
    delta.__class__ = Delta
    return delta  # type: ignore[no-any-return]


_NO_DELTA = Delta()


def chunk(payload: dict[str, Any]) -> ChatCompletionChunk:
    """One chat chunk. Every streamed event comes through here, so the choices'
    checks are written out inline; the top-level fields are ``_header``'s."""
    choices = []
    parts = payload.get("choices")
    if type(parts) is not list:
        raise NotPlain
    for c in parts:
        if type(c) is not dict:
            raise NotPlain
        index, finish = c.get("index", 0), c.get("finish_reason")
        if type(index) is not int or (finish is not None and type(finish) is not str):
            raise NotPlain
        part: Any = _new(_ChoiceDraft)
        part.delta = _delta(c["delta"]) if "delta" in c else _NO_DELTA
        part.index = index
        part.finish_reason = finish
        part.logprobs = c.get("logprobs")
        part.extra = EMPTY if c.keys() <= _CHUNK_CHOICE else _extra(c, _CHUNK_CHOICE)
        part.__class__ = ChunkChoice
        choices.append(part)
    built: Any = _new(_ChunkDraft)
    (
        built.id,
        built.object,
        built.created,
        built.model,
        built.usage,
        built.system_fingerprint,
        built.extra,
    ) = _header(payload, "chat.completion.chunk", _CHUNK)
    built.choices = choices
    built.__class__ = ChatCompletionChunk
    return built  # type: ignore[no-any-return]


def completion(payload: dict[str, Any]) -> CompletionResponse:
    choices = []
    for c in _choices(payload):
        text = c.get("text", "")
        if type(text) is not str:
            raise NotPlain
        choices.append(_new_completion_choice(text, *_choice(c, _COMPLETION_CHOICE)))
    return _new_completion(choices, *_header(payload, "text_completion", _COMPLETION))  # type: ignore[no-any-return]


FAST_BUILDERS: dict[type, Callable[[dict[str, Any]], Any]] = {
    ChatCompletionResponse: chat,
    ChatCompletionChunk: chunk,
    CompletionResponse: completion,
}
