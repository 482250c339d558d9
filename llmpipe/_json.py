"""JSON encoding with orjson as an optional fast path."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps", "loads"]

try:
    import orjson
except ImportError:  # pragma: no cover - exercised when orjson is absent
    orjson = None  # type: ignore[assignment]


def _std_dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


if orjson is not None:
    _fast_dumps = orjson.dumps

    def dumps(value: Any) -> bytes:
        """Encode to UTF-8 JSON bytes; orjson when it can, stdlib for what it refuses."""
        try:
            return _fast_dumps(value)
        except TypeError:  # non-str keys, ints beyond 64 bits, ...
            return _std_dumps(value)

    loads = orjson.loads
else:  # pragma: no cover
    dumps = _std_dumps
    loads = json.loads
