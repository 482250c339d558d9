"""The connection limits object of whichever httpx the installed openai is built on."""

from __future__ import annotations

import importlib
from typing import Any


def limits(connections: int) -> Any:
    """Pool size ``connections``, every connection kept alive, as the other clients do."""
    for name in ("httpx2", "httpx"):  # openai 3.x moved to httpx2
        try:
            httpx = importlib.import_module(name)
        except ImportError:
            continue
        return httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    raise ImportError("neither httpx2 nor httpx is installed; openai needs one")
