"""Embedding replies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from llmpipe.wire.models.extra import extra_field
from llmpipe.wire.models.http import HTTPInfo
from llmpipe.wire.models.wire_dict import WireDict

__all__ = ["Embedding", "EmbeddingResponse", "EmbeddingUsage"]


@attrs.frozen(kw_only=True)
class Embedding(WireDict):
    """One vector; a str when ``encoding_format="base64"`` was asked for."""

    embedding: list[float] | str
    index: int = 0
    object: str = "embedding"
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class EmbeddingUsage(WireDict):
    prompt_tokens: int = 0
    total_tokens: int = 0
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen(kw_only=True)
class EmbeddingResponse(WireDict):
    data: list[Embedding]
    model: str = ""
    object: str = "list"
    usage: EmbeddingUsage | None = None
    extra: Mapping[str, Any] = extra_field()
    http: HTTPInfo | None = attrs.field(default=None, init=False, eq=False, repr=False)
