"""Who may share a cached reply: the cache's scope, and the identity it keys on.

Three scopes, strictest first (the default is the strictest)::

    "credential"  one server, one credential: the server's origin, a fingerprint
                  of the client's credentials (API key, a user:password in the
                  URL, the config's extra headers) and of the per-call headers
                  in ``vary_headers`` (an organization, a project, a tenant)
    "server"      one server, whoever asks: the origin only
    "body"        anyone: the request alone (llmpipe's keys before version 2)

Different credentials may get different replies from one server under one
model name (an organization's fine-tune, a gateway's per-tenant routing or
permissions); different servers certainly do. Sharing wider than
``"credential"`` is a choice for users who know their replies do not depend
on who asks, or where.

Fingerprints are HMAC-SHA256 under the backend's secret (see ``backend``):
the transport makes its own, so the API key never leaves it, and per-call
header values are hashed the same way here. Nothing in a key can be
reversed, or compared with a key of another cache.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from typing import Literal

from llmpipe.request import LLMRequest
from llmpipe.transport.base import Transport

__all__ = ["SCOPES", "VARY_HEADERS", "CacheScope", "Identity"]

CacheScope = Literal["credential", "server", "body"]
SCOPES: tuple[CacheScope, ...] = ("credential", "server", "body")

VARY_HEADERS: tuple[str, ...] = (
    "Authorization",
    "api-key",
    "x-api-key",
    "OpenAI-Organization",
    "OpenAI-Project",
)
"""Per-call headers that say who asks, so split the cache in the "credential"
scope: a per-call key (``Authorization``, Azure's ``api-key``, ``x-api-key``)
and OpenAI's organization and project. ``CacheMiddleware(vary_headers=...)``
adds to them (a gateway's tenant header); other per-call headers, such as
``Idempotency-Key`` or tracing headers, never split the cache."""


class Identity:
    """The scope's view of one client: its origin and credential fingerprint.

    Learnt from the transport in ``bind``; the fingerprint needs the backend's
    secret, so it is completed by ``learn`` on the first call.
    """

    __slots__ = ("_bound", "_credential", "_origin", "_probe", "_secret", "scope", "vary")

    def __init__(self, scope: CacheScope, vary_headers: Iterable[str]) -> None:
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {list(SCOPES)}, got {scope!r}")
        extra = tuple(vary_headers)
        if isinstance(vary_headers, str) or not all(isinstance(h, str) and h for h in extra):
            raise ValueError(
                f"vary_headers must be header names (strings), e.g. ('X-Tenant',), "
                f"got {vary_headers!r}"
            )
        self.scope: CacheScope = scope
        self.vary = frozenset(name.lower() for name in (*VARY_HEADERS, *extra))
        self._bound: Transport | None = None
        self._origin: str | None = None
        self._secret: bytes | None = None
        self._credential: str | None = None
        # A key of our own, to tell at bind time whether two transports send
        # the same credentials without ever seeing them.
        self._probe = os.urandom(32)

    @property
    def needs_secret(self) -> bool:
        """Whether keys wait for the backend's secret (the "credential" scope)."""
        return self.scope == "credential" and self._secret is None

    def bind(self, transport: Transport) -> None:
        """Remember the client's transport; refuse one that does not say who it is,
        and a second client that is someone else (its replies would be mixed in)."""
        if self.scope == "body":
            return
        origin = transport.origin
        if origin is None:
            raise TypeError(
                f"{transport!r} does not say which server it talks to (Transport.origin is "
                "None), so the cache cannot keep servers apart; implement origin and "
                "credential_fingerprint on it, or use CacheMiddleware(scope='body')"
            )
        mine = self._who(transport)
        if self._bound is not None and self._who(self._bound) != mine:
            raise ValueError(
                f"this CacheMiddleware already serves a client of {self._origin} (with its "
                f"credentials); give each client its own CacheMiddleware: they may share "
                "one backend, and entries are kept apart by server and credential"
            )
        self._bound = transport
        self._origin = origin
        if self._secret is not None:  # learnt before (an unbound call): fingerprint now
            self._credential = transport.credential_fingerprint(self._secret)

    def learn(self, secret: bytes) -> None:
        """Complete the identity with the backend's secret."""
        if self._bound is not None:
            self._credential = self._bound.credential_fingerprint(secret)
        self._secret = secret

    def origin(self) -> str | None:
        """The origin the key covers (None in the "body" scope)."""
        if self.scope == "body":
            return None
        if self._origin is None:
            raise RuntimeError(
                f"CacheMiddleware(scope={self.scope!r}) was called before it was bound to "
                "a transport; put it in an AsyncLLM or Pipeline stack (they bind it), "
                "or use scope='body'"
            )
        return self._origin

    def credential(self, request: LLMRequest) -> str | None:
        """Who asks, as the key covers it: the transport's fingerprint, folded
        with the values of this call's ``vary`` headers when it has any."""
        if self.scope != "credential":
            return None
        assert self._secret is not None, "learn() comes first"
        varying = sorted(
            (name.lower(), value)
            for name, value in request.headers.items()
            if name.lower() in self.vary
        )
        if not varying:
            return self._credential
        message = json.dumps([self._credential, varying], separators=(",", ":"))
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def _who(self, transport: Transport) -> tuple[str | None, str | None]:
        if self.scope == "server":
            return transport.origin, None
        return transport.origin, transport.credential_fingerprint(self._probe)
