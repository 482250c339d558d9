"""Embedding replies."""

from __future__ import annotations

import attrs

__all__ = ["Embedding", "EmbeddingResponse", "EmbeddingUsage"]


@attrs.frozen(kw_only=True)
class Embedding:
    """One vector; a str when ``encoding_format="base64"`` was asked for."""

    embedding: list[float] | str
    index: int = 0
    object: str = "embedding"


@attrs.frozen(kw_only=True)
class EmbeddingUsage:
    prompt_tokens: int = 0
    total_tokens: int = 0


@attrs.frozen(kw_only=True)
class EmbeddingResponse:
    data: list[Embedding]
    model: str = ""
    object: str = "list"
    usage: EmbeddingUsage | None = None
