"""Building routed clients over fleets of bundled servers, for the routing tests."""

from __future__ import annotations

from typing import Any

from llmpipe import AsyncLLM, LLMConfig
from llmpipe.routing import BreakerPolicy, Deployment, Router
from llmpipe.testing import Fleet

HELLO = [{"role": "user", "content": "hello"}]
FAST = {"retry_delay": 0.01, "max_retry_delay": 0.2, "timeout": 5}
QUICK_BREAKER = BreakerPolicy(failures=3, cooldown=0.3)


def deployments(fleet: Fleet, model: str = "gpt-4", **settings: Any) -> list[Deployment]:
    return [
        Deployment(base_url=server.base_url, model=model, name=f"s{i}", **settings)
        for i, server in enumerate(fleet)
    ]


def routed(
    groups: dict[str, list[Deployment]], *, config: dict[str, Any] | None = None, **router: Any
) -> AsyncLLM:
    """An AsyncLLM whose transport is a Router over ``groups`` (model: the first alias)."""
    settings = {**FAST, "model": next(iter(groups)), **(config or {})}
    client_config = LLMConfig(**settings)
    router.setdefault("breaker", QUICK_BREAKER)
    return AsyncLLM(client_config, transport=Router(groups, config=client_config, **router))


def served(fleet: Fleet) -> list[int]:
    """How many requests each server of the fleet received."""
    return [len(server.requests) for server in fleet]
