"""Old module paths, still importable after the tree moved to one package per layer.

``import llmpipe.cache`` (now ``llmpipe.middleware.cache``) and the like keep
working, with a ``DeprecationWarning`` naming the new path. The old name is a
thin module that forwards attribute lookups, so classes stay the very same
objects (``isinstance`` holds) and the new module keeps its own identity.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from importlib.abc import Loader

__all__ = ["MOVED", "install"]

_PACKAGES = {
    "llmpipe.models": "llmpipe.wire.models",
    "llmpipe.cache": "llmpipe.middleware.cache",
    "llmpipe.ratelimit": "llmpipe.middleware.ratelimit",
    "llmpipe.usage": "llmpipe.middleware.usage",
}
_SUBMODULES = {
    "llmpipe.models": ("chunks", "embeddings", "messages", "replies"),
    "llmpipe.cache": ("backend", "entry", "key", "memory", "policy", "redis", "replay", "sqlite"),
    "llmpipe.ratelimit": ("backend", "bucket", "headers", "local", "redis_limiter"),
    "llmpipe.usage": ("budget", "prices", "redis_budget", "tracker"),
}

MOVED: dict[str, str] = {
    "llmpipe.sse": "llmpipe.streaming.sse",
    "llmpipe.event_stream": "llmpipe.streaming.events",
    "llmpipe.folding": "llmpipe.streaming.folding",
    "llmpipe.schema": "llmpipe.wire.schema",
    "llmpipe.call_building": "llmpipe.wire.build",
    "llmpipe.reported_usage": "llmpipe.wire.usage",
    "llmpipe.classification": "llmpipe.errors",
    "llmpipe.retry_policy": "llmpipe.middleware.retry.policy",
    "llmpipe.retry_budget": "llmpipe.middleware.retry.budget",
    "llmpipe.middleware.rate_limit": "llmpipe.middleware.ratelimit.middleware",
    "llmpipe.transport.aiohttp_transport": "llmpipe.transport.aiohttp",
    "llmpipe.ratelimit.estimate": "llmpipe.wire.estimate",
    "llmpipe.ratelimit.usage": "llmpipe.wire.usage",
    "llmpipe.usage.estimate": "llmpipe.wire.estimate",
    **_PACKAGES,
    **{
        f"{old}.{name}": f"{_PACKAGES[old]}.{name}"
        for old, names in _SUBMODULES.items()
        for name in names
    },
}
"""Old module path → where it lives now."""


# Plain classes, not importlib.abc's: that module pulls in importlib.resources,
# tempfile and random, ~3 ms of every `import llmpipe` for paths rarely used.
class _Forwarder:
    def __init__(self, target: str) -> None:
        self._target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        old = module.__name__
        warnings.warn(
            f"{old} moved to {self._target}; import from there (or from llmpipe)",
            DeprecationWarning,
            stacklevel=2,
        )
        target = importlib.import_module(self._target)
        module.__getattr__ = lambda name: getattr(target, name)  # type: ignore[method-assign]
        module.__dir__ = lambda: dir(target)  # type: ignore[method-assign]
        module.__doc__ = target.__doc__
        if hasattr(target, "__all__"):
            module.__all__ = list(target.__all__)  # type: ignore[attr-defined]


class _MovedFinder:
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(
            fullname, cast("Loader", _Forwarder(new)), is_package=fullname in _PACKAGES
        )


def install() -> None:
    """Answer old paths last, after every real finder (idempotent)."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
