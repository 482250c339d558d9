"""Who a transport talks to, and as whom, in forms safe to hand out.

A cache must not answer one server's or one tenant's call with another's
reply, so it needs to know both; but the credentials themselves must never
leave the transport. ``origin_of`` names the server without the user:password
a URL may carry; ``fingerprint`` turns the credentials into an HMAC under a
key the caller chooses, so the caller can compare fingerprints it made
itself and nothing else: not recover a key, nor match one made under another key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from urllib.parse import urlsplit

__all__ = ["fingerprint", "origin_of", "userinfo_of"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """``scheme://host:port/path`` of ``url``: lowercase scheme and host, the port
    always written, no trailing slash, no credentials, no query or fragment.

    ``https://Key:pw@API.example.com/v1/`` gives ``https://api.example.com:443/v1``.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:  # IPv6: keep the brackets so the port stays readable
        host = f"[{host}]"
    port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    return f"{scheme}://{host}:{port}{parts.path.rstrip('/')}"


def userinfo_of(url: str) -> str | None:
    """The ``user:password`` part of ``url`` (sent as basic auth), or None."""
    userinfo, at, _ = urlsplit(url).netloc.rpartition("@")
    return userinfo if at else None


def fingerprint(key: bytes, credentials: Mapping[str, object]) -> str | None:
    """HMAC-SHA256 under ``key`` of ``credentials`` as canonical JSON, in hex.

    None-valued and empty entries are dropped first; None when nothing is left
    (a transport that sends no credentials). The JSON has sorted keys and no
    spaces, so equal credentials give equal fingerprints in every process.
    """
    present = {name: value for name, value in credentials.items() if value}
    if not present:
        return None
    message = json.dumps(present, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
