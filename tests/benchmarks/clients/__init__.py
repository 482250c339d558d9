"""The clients under test, one module per library, and the registry that names them.

Nothing here imports an HTTP library: a client process imports only the one
module it runs (``connect``), so its memory and CPU are that library's.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from tests.benchmarks.clients.base import AsyncClient, SyncClient, Unsupported

__all__ = ["CLIENTS", "AsyncClient", "ClientSpec", "SyncClient", "Unsupported", "connect"]


@dataclass(frozen=True)
class ClientSpec:
    """How to build one client: ``module.connect(base_url, connections, **options)``."""

    key: str
    label: str
    module: str
    sync: bool = False
    options: dict[str, str] = field(default_factory=dict)


_SPECS = [
    ClientSpec("raw", "raw aiohttp (floor)", "raw_aiohttp"),
    ClientSpec("llmpipe", "llmpipe AsyncLLM, default stack", "llmpipe_async"),
    ClientSpec(
        "llmpipe-empty",
        "llmpipe AsyncLLM, empty stack",
        "llmpipe_async",
        options={"stack": "empty"},
    ),
    ClientSpec("openai", "openai AsyncOpenAI (httpx)", "openai_async"),
    ClientSpec(
        "openai-aiohttp",
        "openai AsyncOpenAI (aiohttp backend)",
        "openai_async",
        options={"backend": "aiohttp"},
    ),
    ClientSpec("llmpipe-sync", "llmpipe LLM (sync)", "llmpipe_sync", sync=True),
    ClientSpec("requests", "requests.Session", "requests_session", sync=True),
    ClientSpec("openai-sync", "openai OpenAI (sync, httpx)", "openai_sync", sync=True),
]
CLIENTS: dict[str, ClientSpec] = {spec.key: spec for spec in _SPECS}


def connect(spec: ClientSpec, base_url: str, connections: int) -> Any:
    """Import the client's module and call its ``connect`` (a coroutine for async clients)."""
    module = importlib.import_module(f"{__name__}.{spec.module}")
    return module.connect(base_url, connections, **spec.options)
