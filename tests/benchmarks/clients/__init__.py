"""The clients under test, one module per library, and the registry that names them.

Nothing here imports an HTTP library: a client process imports only the one
module it runs (``connect``), so its memory and CPU are that library's.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from tests.benchmarks.clients.base import AsyncClient, OnEvent, SyncClient, Unsupported

__all__ = [
    "CLIENTS",
    "INSTALLS",
    "AsyncClient",
    "ClientSpec",
    "OnEvent",
    "SyncClient",
    "Unsupported",
    "connect",
]


INSTALLS = {
    "default": "`pip install llmpipe`",
    "fast": "`pip install llmpipe[fast] uvloop`",
}
"""The two ways llmpipe is installed, each in a bench venv of its own (see the Makefile)."""


@dataclass(frozen=True)
class ClientSpec:
    """How to build one client: ``module.connect(base_url, connections, **options)``.

    ``install`` names the llmpipe install whose venv runs the client (None: not
    llmpipe, run by the default venv, which has stdlib json only); ``loop`` is
    the event loop the driver runs an async client on.
    """

    key: str
    label: str
    module: str
    sync: bool = False
    install: str | None = None
    loop: str = "asyncio"
    options: dict[str, str] = field(default_factory=dict)

    @property
    def venv(self) -> str:
        return self.install or "default"


def _llmpipe(suffix: str, install: str) -> list[ClientSpec]:
    return [
        ClientSpec(
            f"llmpipe{suffix}", "llmpipe AsyncLLM, default stack", "llmpipe_async", install=install
        ),
        ClientSpec(
            f"llmpipe{suffix}-empty",
            "llmpipe AsyncLLM, empty stack",
            "llmpipe_async",
            install=install,
            options={"stack": "empty"},
        ),
        ClientSpec(
            f"llmpipe{suffix}-sync",
            "llmpipe LLM (sync)",
            "llmpipe_sync",
            sync=True,
            install=install,
        ),
    ]


_SPECS = [
    ClientSpec("raw", "raw aiohttp (floor)", "raw_aiohttp"),
    *_llmpipe("", "default"),
    *_llmpipe("-fast", "fast"),
    ClientSpec(
        "llmpipe-fast-uvloop",
        "llmpipe AsyncLLM, default stack, on `uvloop.run`",
        "llmpipe_async",
        install="fast",
        loop="uvloop",
    ),
    ClientSpec("openai", "openai AsyncOpenAI (httpx)", "openai_async"),
    ClientSpec(
        "openai-aiohttp",
        "openai AsyncOpenAI (aiohttp backend)",
        "openai_async",
        options={"backend": "aiohttp"},
    ),
    ClientSpec("requests", "requests.Session", "requests_session", sync=True),
    ClientSpec("openai-sync", "openai OpenAI (sync, httpx)", "openai_sync", sync=True),
]
CLIENTS: dict[str, ClientSpec] = {spec.key: spec for spec in _SPECS}


def connect(spec: ClientSpec, base_url: str, connections: int) -> Any:
    """Import the client's module and call its ``connect`` (a coroutine for async clients)."""
    module = importlib.import_module(f"{__name__}.{spec.module}")
    return module.connect(base_url, connections, **spec.options)
