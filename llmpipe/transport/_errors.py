"""aiohttp's exceptions, mapped once to llmpipe's tree (most specific first).

Every message names what failed and what to change; a timeout names which
of the timeouts expired. A reply whose headers aiohttp cannot parse is the
client's limit, not the server's 400: it says which setting to raise.
"""

from __future__ import annotations

import asyncio
from typing import Any

import attrs

from llmpipe.errors import LLMConnectionError, LLMError, LLMResponseError, LLMTimeoutError

__all__ = ["Limits", "map_error"]


@attrs.frozen
class Limits:
    """The settings a failure's message may need to name."""

    connect_timeout: float | None
    max_header_bytes: int
    proxy: str | None  # as shown: no password


def _reason(exc: BaseException) -> str:
    error: Any = getattr(exc, "os_error", None) or exc
    return str(getattr(error, "verify_message", None) or getattr(error, "strerror", None) or error)


def map_error(
    exc: BaseException, where: str, seconds: float, limits: Limits, *, stream: bool = False
) -> LLMError | None:
    """The llmpipe error for ``exc`` (raised during ``where``), or None if it is not aiohttp's.

    ``seconds`` is the attempt's timeout; for a ``stream`` it bounds the wait
    for the first event, of which the reply's headers are the first part.
    """
    import aiohttp

    if isinstance(exc, aiohttp.ServerTimeoutError):  # only sock_connect is set: connecting
        return LLMTimeoutError(
            f"{where}: could not connect within connect_timeout={limits.connect_timeout:g} s; "
            "check that the server is reachable, or raise connect_timeout"
        )
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) and stream:
        return LLMTimeoutError(
            f"{where}: no reply headers within {seconds:.3g} s (the first stream event's "
            "timeout); raise stream_first_event_timeout or check that the server is not "
            "overloaded"
        )
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return LLMTimeoutError(
            f"{where}: no complete reply within {seconds:.3g} s (timeout); "
            "raise the timeout or check that the server is not overloaded"
        )
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return LLMConnectionError(
            f"{where}: TLS certificate verification failed ({_reason(exc)}); if the server "
            "uses a private CA, pass its certificate as ca_bundle= (or an ssl_context=)"
        )
    if isinstance(exc, aiohttp.ClientSSLError):
        return LLMConnectionError(f"{where}: the TLS handshake failed ({_reason(exc)})")
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return LLMConnectionError(
            f"{where}: cannot connect to the proxy {limits.proxy} ({_reason(exc)}); check "
            "LLMConfig.proxy or HTTP(S)_PROXY, or list this host in NO_PROXY"
        )
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return LLMConnectionError(
            f"{where}: the proxy {limits.proxy} refused the tunnel ({exc.status} {exc.message})"
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return LLMConnectionError(
            f"{where}: cannot connect ({_reason(exc)}); check that the server is running "
            "and that base_url is right"
        )
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return LLMConnectionError(f"{where}: the server closed the connection before replying")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return LLMConnectionError(f"{where}: the reply body was cut off ({exc})")
    if isinstance(exc, aiohttp.ClientResponseError):  # raised while parsing the status or headers
        return _unreadable_head(exc, where, limits)
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        return LLMConnectionError(f"{where}: {type(exc).__name__}: {exc}")
    return None


def _unreadable_head(exc: BaseException, where: str, limits: Limits) -> LLMResponseError:
    """aiohttp reports its own parse limits as a status 400; they are not the server's."""
    from aiohttp.http_exceptions import LineTooLong

    if isinstance(exc.__cause__, LineTooLong) or "Got more than" in str(exc):
        return LLMResponseError(
            f"{where}: the reply has a status or header line longer than "
            f"max_header_bytes={limits.max_header_bytes}; raise max_header_bytes"
        )
    return LLMResponseError(
        f"{where}: the reply's status line or headers are not valid HTTP/1.1; "
        "check that base_url points at an HTTP server"
    )
