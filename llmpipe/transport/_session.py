"""Opening a pool: the aiohttp session and connector a config asks for.

Worked out once per client: the headers (with Basic credentials taken from
``base_url``), the TLS context (files are read here, so a bad one fails when
the client is built). Worked out per pool, when it opens: the proxy, since the
environment it comes from may have changed since the client was built.
"""

from __future__ import annotations

import asyncio
import base64
from typing import TYPE_CHECKING

from llmpipe._urls import credentials, shown
from llmpipe._version import __version__
from llmpipe.config import LLMConfig
from llmpipe.transport._fresh import connector_class
from llmpipe.transport._pool import Pool
from llmpipe.transport._proxy import proxy_for
from llmpipe.transport._tls import tls_for

if TYPE_CHECKING:
    import aiohttp

__all__ = ["PoolRecipe", "proxy_shown"]


class PoolRecipe:
    """Everything needed to open a pool for one config, again and again."""

    def __init__(self, config: LLMConfig) -> None:
        self._config = config
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"llmpipe/{__version__}",
            **config.extra_headers,
        }
        if config.api_key is not None:
            headers["Authorization"] = f"Bearer {config.api_key}"
        basic = credentials(config.base_url)  # LLMConfig refuses them with an api_key
        if basic is not None:
            token = base64.b64encode(":".join(basic).encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self._headers = headers
        self._tls = tls_for(config)

    def open(self, loop: asyncio.AbstractEventLoop) -> Pool:
        import aiohttp
        import yarl

        config = self._config
        connector: aiohttp.BaseConnector
        if config.unix_socket is not None:
            unix = connector_class(aiohttp.UnixConnector)
            connector = unix(path=config.unix_socket, limit=config.connection_limit)
        else:
            tcp = connector_class(aiohttp.TCPConnector)
            connector = tcp(limit=config.connection_limit, ssl=self._tls)
        session = aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            # Connecting has its own limit; the attempt's is the pool's (``_deadlines``):
            # aiohttp's ``total`` would arm and cancel a timer per request.
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=config.connect_timeout),
            max_line_size=config.max_header_bytes,
            max_field_size=config.max_header_bytes,
        )
        proxy = proxy_for(config)
        return Pool(
            session,
            loop,
            config.connection_limit,
            None if proxy is None else yarl.URL(proxy),
            connector.turns,  # type: ignore[union-attr]
        )


def proxy_shown(pool: Pool) -> str | None:
    """The pool's proxy, fit for a message (no password)."""
    return None if pool.proxy is None else shown(str(pool.proxy))
