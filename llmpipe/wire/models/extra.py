"""The fields a server sends that llmpipe does not model, kept on every reply model.

Servers add fields faster than any client models them (``reasoning_content``
from DeepSeek and vLLM, ``service_tier``, ``x_groq``, llama.cpp's
``timings``). Dropping them loses data the caller may need, and loses it
again when a reply message is sent back in the next request. So each reply
model has one ``extra`` mapping: the keys of its JSON object that are not its
own fields, values as sent. Empty models share one read-only mapping, so
keeping nothing costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

import attrs

__all__ = ["EMPTY", "extra_field", "set_extra"]


class _NoExtra(Mapping[str, Any]):
    """An empty read-only mapping that pickles (a ``mappingproxy`` does not, and a
    reply rides along in errors that cross processes: ``StreamTruncatedError.partial``)."""

    __slots__ = ()

    def __getitem__(self, key: str) -> NoReturn:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "{}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_no_extra, ())


EMPTY: Mapping[str, Any] = _NoExtra()
"""The ``extra`` of a model whose JSON had no unmodelled keys."""


def _no_extra() -> Mapping[str, Any]:
    return EMPTY


def _repr(value: Mapping[str, Any]) -> str:
    return repr(dict(value))


def extra_field() -> Any:
    """The ``extra`` field: keyword-only, defaulting to ``EMPTY``."""
    return attrs.field(default=EMPTY, kw_only=True, repr=_repr)


def set_extra(model: Any, extra: Mapping[str, Any]) -> None:
    """Give a model that was just built (and not yet shared) its extra fields.

    The models are frozen for their users; the converter fills ``extra``
    once, right after building a model, before anyone else sees it.
    """
    object.__setattr__(model, "extra", extra)
