"""Which endpoint answers which path, and which of them can stream."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from ._embeddings import embedding_list
from ._openai import chat_completion, model_list, text_completion
from ._stream import Chunker, chat_chunks, text_chunks

__all__ = ["ROUTES", "Endpoint", "Route"]

# (decoded JSON body or None, the server's models, the request number) -> reply body
Endpoint = Callable[[Any, Sequence[str], int], dict[str, Any]]


@attrs.frozen
class Route:
    method: str
    endpoint: Endpoint
    chunker: Chunker | None = None  # how to stream the reply, if the endpoint can


ROUTES: Mapping[str, Route] = {
    "/v1/chat/completions": Route("POST", chat_completion, chat_chunks),
    "/v1/completions": Route("POST", text_completion, text_chunks),
    "/v1/embeddings": Route("POST", embedding_list),
    "/v1/models": Route("GET", model_list),
}
