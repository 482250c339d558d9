"""The errors a router raises itself (the rest are its deployments')."""

from __future__ import annotations

from llmpipe.errors import LLMConnectionError, LLMError

__all__ = ["NoDeploymentAvailable", "UnknownAlias"]


class NoDeploymentAvailable(LLMConnectionError):
    """Nothing was sent: every deployment of the alias is cooling down (its
    breaker open). A connection error, so the retry layer tries again later."""


class UnknownAlias(LLMError):
    """The request names a model that is no alias of the router."""
