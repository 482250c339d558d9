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

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

__all__ = ["EMPTY", "extra_field", "set_extra"]

EMPTY: Mapping[str, Any] = MappingProxyType({})
"""The ``extra`` of a model whose JSON had no unmodelled keys."""


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
