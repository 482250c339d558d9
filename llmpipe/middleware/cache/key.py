"""cache_key: one request, one name, however its JSON happens to be spelled.

The key covers what decides the reply: the HTTP method, the endpoint, the
stream flag and the whole JSON body (model, messages or prompt, every
parameter); and, as the cache's scope asks, the server (``origin``) and who
asks (``credential``, an opaque fingerprint, never a key itself). It never
reads headers or per-call options (timeouts, retries): ``CacheMiddleware``
turns the headers that matter into the ``credential`` fingerprint.

Keys are ``v2:`` and a sha256 hex digest. The version prefix keeps keys of an
older format (a bare digest of method, endpoint, stream and body, which
ignored the server and the credentials) from ever being read again; they
simply expire.

The canonical form is JSON with sorted keys and no spaces. Numbers follow one
rule: **a float with a whole value is written as an integer** (``1.0`` as
``1``, ``-0.0`` as ``0``), and any other float in Python's shortest
round-trip form (``repr``). ``0.7`` and ``0.70`` are the same float once
parsed, so they already agree; the rule makes ``1`` and ``1.0`` agree too,
which JSON encoders otherwise spell apart. Booleans stay booleans (``True``
is not ``1``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from llmpipe import _json
from llmpipe.request import LLMRequest

__all__ = ["KEY_VERSION", "cache_key", "canonical_json"]

KEY_VERSION = "v2"
"""The first part of every key; changed whenever what a key covers changes."""

_PREFIX = KEY_VERSION + ":"


def cache_key(
    request: LLMRequest, *, origin: str | None = None, credential: str | None = None
) -> str:
    """``v2:`` and the sha256 hex digest of the request's canonical form.

    Without ``origin`` and ``credential`` the key names the body alone (what
    ``scope="body"`` shares); with ``origin``, one server's reply; with both,
    one server's reply to one credential.
    """
    document = canonical_json(request, origin=origin, credential=credential)
    return _PREFIX + hashlib.sha256(document).hexdigest()


def canonical_json(
    request: LLMRequest, *, origin: str | None = None, credential: str | None = None
) -> bytes:
    """What is hashed: method, endpoint, stream flag and body, spelled one way,
    and the origin and credential fingerprint when given."""
    document = {
        "method": request.method.upper(),
        "endpoint": request.endpoint.strip("/"),
        "stream": request.stream,
        "body": _canonical(request.body),
    }
    if origin is not None:
        document["origin"] = origin
    if credential is not None:
        document["credential"] = credential
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
