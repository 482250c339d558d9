"""Observability: OpenTelemetry GenAI traces and metrics, and stdlib logging.

``OpenTelemetryMiddleware`` (and the ``AttemptSpanMiddleware`` it makes)
need the ``otel`` extra and load on first use, so ``import llmpipe`` never
imports opentelemetry. The stdlib logging bridge needs nothing extra.
"""

from __future__ import annotations

import importlib

from llmpipe.observability.logging_bridge import (
    LOGGER_NAME,
    disable_stdlib_logging,
    enable_stdlib_logging,
)

__all__ = [
    "LOGGER_NAME",
    "AttemptSpanMiddleware",
    "OpenTelemetryMiddleware",
    "disable_stdlib_logging",
    "enable_stdlib_logging",
]

_LAZY = {
    "AttemptSpanMiddleware": "llmpipe.observability.attempts",
    "OpenTelemetryMiddleware": "llmpipe.observability.otel",
}


def __getattr__(name: str) -> object:
    """The OpenTelemetry layers load on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmpipe.observability' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
