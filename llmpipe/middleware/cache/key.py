"""cache_key: one request, one name, however its JSON happens to be spelled.

The key covers what decides the reply: the HTTP method, the endpoint, the
stream flag and the whole JSON body (model, messages or prompt, every
parameter). It never covers headers, so neither the API key nor the
per-call ``Idempotency-Key`` can split a cache or end up in one; nor the
per-call options (timeouts, retries), which change how a call is made, not
what it answers.

The canonical form is JSON with sorted keys and no spaces, hashed with
sha256. Numbers follow one rule: **a float with a whole value is written as
an integer** (``1.0`` as ``1``, ``-0.0`` as ``0``), and any other float in
Python's shortest round-trip form (``repr``). ``0.7`` and ``0.70`` are the
same float once parsed, so they already agree; the rule makes ``1`` and
``1.0`` agree too, which JSON encoders otherwise spell apart. Booleans stay
booleans (``True`` is not ``1``). The server URL is not part of the key: use
one backend (file, prefix) per server if two servers share model names.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from llmpipe import _json
from llmpipe.request import LLMRequest

__all__ = ["cache_key", "canonical_json"]


def cache_key(request: LLMRequest) -> str:
    """The sha256 hex digest of the request's canonical form."""
    return hashlib.sha256(canonical_json(request)).hexdigest()


def canonical_json(request: LLMRequest) -> bytes:
    """What is hashed: method, endpoint, stream flag and body, spelled one way."""
    document = {
        "method": request.method.upper(),
        "endpoint": request.endpoint.strip("/"),
        "stream": request.stream,
        "body": _canonical(request.body),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode()


def _canonical(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        return value
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    # Anything else (a dataclass, a datetime, ...) as the transport would send it.
    return _canonical(_json.loads(_json.dumps(value)))
