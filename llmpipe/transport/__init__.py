"""Transports: the innermost layer, which actually sends a request."""

from llmpipe.transport.aiohttp import AiohttpTransport
from llmpipe.transport.base import Transport
from llmpipe.transport.mock import MockTransport

__all__ = ["AiohttpTransport", "MockTransport", "Transport"]
