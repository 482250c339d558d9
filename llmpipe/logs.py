"""Logging switches. llmpipe logs through loguru under the name ``llmpipe``
and, as loguru advises for libraries, is silent until the application asks."""

from __future__ import annotations

import sys
from typing import Any

from loguru import logger

__all__ = ["disable_logging", "enable_logging"]

_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name} | {message}"
_handler_id: int | None = None


def enable_logging(level: str | int = "INFO", sink: Any = None) -> int:
    """Show llmpipe's records at ``level`` and above on ``sink`` (stderr by default).

    Adds one handler that only takes llmpipe's records and returns its id;
    calling again replaces it. An application that configures loguru itself
    can call ``logger.enable("llmpipe")`` instead.
    """
    global _handler_id
    disable_logging()
    logger.enable("llmpipe")
    _handler_id = logger.add(
        sys.stderr if sink is None else sink, level=level, filter="llmpipe", format=_FORMAT
    )
    return _handler_id


def disable_logging() -> None:
    """Silence llmpipe again and remove the handler ``enable_logging`` added."""
    global _handler_id
    logger.disable("llmpipe")
    if _handler_id is not None:
        logger.remove(_handler_id)
        _handler_id = None
