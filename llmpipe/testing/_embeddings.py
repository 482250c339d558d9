"""POST /v1/embeddings, as a pure function of the decoded request body.

Vectors are deterministic so tests can compare them: each is derived from the
SHA-256 of its input text, has unit length, and `dimensions` entries (default
8, small enough to read in a test failure). The same text always gives the
same vector; different texts almost surely give different ones.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Sequence
from typing import Any

from . import _checks
from ._api_error import ApiError
from ._tokens import words

__all__ = ["DEFAULT_DIMENSIONS", "embedding_list", "vector"]

DEFAULT_DIMENSIONS = 8
MAX_DIMENSIONS = 4096


def embedding_list(body: Any, models: Sequence[str], _number: int) -> dict[str, Any]:
    """One embedding per input, in input order; base64 gives little-endian float32."""
    request = _checks.json_object(body)
    inputs = _checks.texts(request, "input")
    model = _checks.known_model(request, models)
    size = _checks.positive_int(request, "dimensions", MAX_DIMENSIONS) or DEFAULT_DIMENSIONS
    encoding = request.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise ApiError(
            400, "'encoding_format' must be 'float' or 'base64'.", param="encoding_format"
        )
    vectors = [vector(text, size) for text in inputs]
    tokens = sum(map(words, inputs))
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _encode(v, encoding)}
            for i, v in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def vector(text: str, dimensions: int) -> list[float]:
    """The unit-length vector for `text`."""
    stream = b""
    block = 0
    while len(stream) < 2 * dimensions:
        stream += hashlib.sha256(f"{block}:{text}".encode()).digest()
        block += 1
    raw = [
        int.from_bytes(stream[2 * i : 2 * i + 2], "big") / 32767.5 - 1.0 for i in range(dimensions)
    ]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def _encode(values: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return values
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
