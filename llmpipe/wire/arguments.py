"""A call's keyword arguments, checked before anything is sent.

Options with a config counterpart (``temperature``, ``timeout``,
``max_retries``...) get the config's checks and messages. A keyword not
known as a parameter of any common server but a small edit away from one
(``max_token=5``) is a typo, and a ``TypeError`` says which name was meant;
an unknown name far from every known one goes into the body as is (servers
have parameters of their own). ``extra_body=`` sends anything unchecked. A
known name costs one dict lookup; only unknown ones are compared, once each.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from llmpipe import _json
from llmpipe._config_checks import boolean, headers, integer, number, text
from llmpipe.request import CALL_KEYWORDS
from llmpipe.wire.parameters import KNOWN_PARAMETERS

__all__ = [
    "check_body_field",
    "check_extra_body",
    "check_option",
    "check_sampling",
    "closest",
    "edit_distance",
    "likely_meant",
]

Check = Callable[[Any, Any, Any], None]

_OPTION_CHECKS: dict[str, Check] = {
    "max_retries": integer("max_retries", 0, owner=""),
    "timeout": number("timeout", 0, None, low_open=True, owner=""),
    "deadline": number("deadline", 0, None, low_open=True, owner=""),
    "first_event_timeout": number("first_event_timeout", 0, None, low_open=True, owner=""),
    "idle_timeout": number("idle_timeout", 0, None, low_open=True, owner=""),
    "cache": boolean("cache", owner=""),
    "tag": text("tag", owner=""),
    "extra_headers": headers("extra_headers", owner=""),
}
"""Per-call settings, checked as ``LLMConfig`` checks their counterparts."""

_temperature = number("temperature", 0.0, 2.0, owner="")
_max_tokens = integer("max_tokens", 1, owner="")

_BODY_CHECKS: dict[str, Check] = {
    "temperature": _temperature,
    "max_tokens": _max_tokens,
    "max_completion_tokens": integer("max_completion_tokens", 1, owner=""),
    "model": text("model", owner=""),
    "top_p": number("top_p", 0.0, 1.0, owner=""),
    "n": integer("n", 1, owner=""),
    "presence_penalty": number("presence_penalty", -2.0, 2.0, owner=""),
    "frequency_penalty": number("frequency_penalty", -2.0, 2.0, owner=""),
    "top_logprobs": integer("top_logprobs", 0, owner=""),
}
"""Body fields with a range in the OpenAI spec (the first two also in ``LLMConfig``)."""

_NAMES = KNOWN_PARAMETERS | frozenset(CALL_KEYWORDS) | {"extra_body", "response_model"}
_KNOWN: dict[str, Check | None] = {name: _BODY_CHECKS.get(name) for name in _NAMES}
_SORTED_NAMES = tuple(sorted(_NAMES))
_UNKNOWN: Any = object()
_PLAIN = frozenset({str, int, float, bool, type(None)})


def check_option(name: str, value: Any) -> None:
    """Check one per-call setting the caller gave (not None)."""
    _OPTION_CHECKS[name](None, None, value)


def check_sampling(temperature: Any, max_tokens: Any, omit: object) -> None:
    """The two sampling arguments every generation method takes (None: not
    given; ``omit``: not sent). A float and an int in range cost no call."""
    if temperature is not None and not (type(temperature) is float and 0.0 <= temperature <= 2.0):
        _unless_omitted(_temperature, temperature, omit)
    if max_tokens is not None and not (type(max_tokens) is int and max_tokens >= 1):
        _unless_omitted(_max_tokens, max_tokens, omit)


def _unless_omitted(check: Check, value: Any, omit: object) -> None:
    if value is not omit:
        check(None, None, value)


def check_body_field(name: str, value: Any) -> None:
    """Check one keyword argument bound for the body (not ``OMIT``)."""
    check = _KNOWN.get(name, _UNKNOWN)
    if check is _UNKNOWN:
        meant = likely_meant(name)
        if meant is not None:
            raise TypeError(
                f"unknown keyword argument {name!r}: did you mean {meant!r}? To send a field "
                f"the server knows under that name, say so: extra_body={{{name!r}: ...}}"
            )
    elif check is not None and value is not None:
        check(None, None, value)
    if type(value) not in _PLAIN:
        _encodable(name, value)


def check_extra_body(value: Any) -> Mapping[str, Any]:
    """``extra_body`` as a mapping of field names, its values JSON."""
    if not (isinstance(value, Mapping) and all(isinstance(key, str) for key in value)):
        raise TypeError(
            f"extra_body must be a dict of field name to JSON value, got {type(value).__name__}"
        )
    _encodable("extra_body", value)
    return value


def _encodable(name: str, value: Any) -> None:
    """``TypeError`` naming the argument, and where in it, when JSON cannot encode it."""
    try:
        _json.dumps(value)
    except (TypeError, ValueError) as exc:  # ValueError: a container that holds itself
        where, culprit = _first_unencodable(name, value, set())
        if not where:  # nothing found to blame: the whole value
            where, culprit = name, value
        why = "holds itself" if culprit is None else f"has type {type(culprit).__name__}"
        raise TypeError(
            f"keyword argument {name!r} cannot be sent as JSON: {where} {why}; give dicts, "
            "lists, str, int, float, bool or None (a set's items: as a list)"
        ) from exc


def _first_unencodable(path: str, value: Any, seen: set[int]) -> tuple[str, Any]:
    """The path to the first value JSON cannot encode, and that value (None: a cycle)."""
    if type(value) in _PLAIN:
        return "", None
    if id(value) in seen:
        return path, None
    if isinstance(value, Mapping):
        seen.add(id(value))
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                return f"{path} (a key)", key
            found = _first_unencodable(f"{path}[{key!r}]", item, seen)
            if found[0]:
                return found
        return "", None
    if isinstance(value, (list, tuple)):
        seen.add(id(value))
        for position, item in enumerate(value):
            found = _first_unencodable(f"{path}[{position}]", item, seen)
            if found[0]:
                return found
        return "", None
    return path, value


@functools.lru_cache(maxsize=256)
def likely_meant(name: str) -> str | None:
    """The known parameter ``name`` most likely misspells, or None.

    Cached: a server's own parameter is compared with the known ones once.
    """
    return closest(name, _SORTED_NAMES)


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``name`` is a typo of, or None: within one edit (a letter
    added, dropped, changed, or two swapped) for names of 4 to 7 letters, two
    for longer ones; shorter names are never guessed at. Ties: the first."""
    if len(name) < 4:
        return None
    limit = 1 if len(name) <= 7 else 2
    best: tuple[int, str] | None = None
    for known in candidates:
        if abs(len(known) - len(name)) > limit:
            continue
        distance = edit_distance(name, known, limit)
        if distance <= limit and (best is None or distance < best[0]):
            best = (distance, known)
    return None if best is None else best[1]


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent swaps),
    or ``limit + 1`` as soon as it must exceed ``limit``."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]
