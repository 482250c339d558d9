"""A deployment: one server (or provider account) that can answer an alias.

Plain settings, validated at construction, no I/O. The router builds each
deployment's own transport (its own connection pool) from the client's
config with this deployment's ``base_url``, ``api_key`` and overrides, and
its own small pipeline from ``middlewares`` (a rate limit for that account,
say), so what one deployment does never reaches another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from llmpipe.config import LLMConfig
from llmpipe.pipeline import MiddlewareLike
from llmpipe.routing.limit import LimitPolicy
from llmpipe.transport.base import Transport

__all__ = ["Deployment"]


def _mask(value: str | None) -> str:
    return "None" if value is None else "'***'"


def _weight(_: object, __: object, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"Deployment.weight must be a number > 0, got {value!r}")


def _optional_count(_: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and (type(value) is not int or value < 1):
        raise ValueError(
            f"Deployment.{attribute.name} must be None or an integer >= 1, got {value!r}"
        )


def _text(_: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and not (isinstance(value, str) and value.strip()):
        raise ValueError(f"Deployment.{attribute.name} must be None or a non-empty string")


@attrs.frozen(kw_only=True)
class Deployment:
    """Where to send, as whom, under which model name, and with what share.

    ``model``: the name this server knows the model by (None: the alias
    itself). ``weight``: its share of traffic relative to the others (a
    replica with twice the GPUs: 2). ``timeout``, ``connection_limit`` and
    ``extra_headers`` override the client config's for this deployment.
    ``max_in_flight`` caps the requests in flight to it (also the most an
    adaptive ``limit`` may reach); ``requests_per_minute`` and
    ``tokens_per_minute`` add a ``RateLimitMiddleware`` for its quota in front
    of ``middlewares``. ``transport`` replaces the HTTP transport (tests).
    """

    base_url: str | None = None
    model: str | None = attrs.field(default=None, validator=_text)
    api_key: str | None = attrs.field(default=None, repr=_mask, validator=_text)
    name: str | None = attrs.field(default=None, validator=_text)
    weight: float = attrs.field(default=1.0, validator=_weight)
    timeout: float | None = None
    connection_limit: int | None = attrs.field(default=None, validator=_optional_count)
    extra_headers: Mapping[str, str] = attrs.field(factory=dict, converter=dict)
    max_in_flight: int | None = attrs.field(default=None, validator=_optional_count)
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    middlewares: Sequence[MiddlewareLike] = attrs.field(default=(), converter=tuple)
    limit: LimitPolicy | None = None
    """This deployment's adaptive concurrency limit (else the router's)."""
    transport: Transport | None = attrs.field(default=None, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.base_url is None and self.transport is None:
            raise ValueError("a Deployment needs a base_url (or a transport of its own)")

    def make_transport(self, template: LLMConfig) -> Transport:
        """This deployment's own transport: the template config with its settings."""
        if self.transport is not None:
            return self.transport
        from llmpipe.transport.aiohttp import AiohttpTransport

        return AiohttpTransport(self.config(template))

    def config(self, template: LLMConfig) -> LLMConfig:
        """The client config ``template`` as this deployment's transport uses it."""
        changes: dict[str, Any] = {"base_url": self.base_url, "api_key": self.api_key}
        if self.model is not None:
            changes["model"] = self.model
        if self.timeout is not None:
            changes["timeout"] = self.timeout
        if self.connection_limit is not None:
            changes["connection_limit"] = self.connection_limit
        if self.extra_headers:
            changes["extra_headers"] = {**template.extra_headers, **self.extra_headers}
        return attrs.evolve(template, **changes)

    def stack(self) -> list[MiddlewareLike]:
        """This deployment's middlewares, a quota's rate limit first."""
        stack = list(self.middlewares)
        if self.requests_per_minute is not None or self.tokens_per_minute is not None:
            from llmpipe.middleware.ratelimit.middleware import RateLimitMiddleware

            stack.insert(0, RateLimitMiddleware(self.requests_per_minute, self.tokens_per_minute))
        return stack
