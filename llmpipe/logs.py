"""Logging switches. llmpipe logs through loguru under the name ``llmpipe``
and, as loguru advises for libraries, is silent until the application asks.

``logger.enable("llmpipe")`` and ``logger.disable("llmpipe")`` work as
loguru users expect; ``enable_logging`` adds a level, and optionally a sink.
Every llmpipe log call passes the level gate here first.

A second, independent route: a ``Forwarder`` set with ``set_forwarder``
receives every record too (``llmpipe.enable_stdlib_logging`` sets one that
writes to the standard ``logging`` module), and decides its own level.
"""

from __future__ import annotations

from typing import Any, Protocol

from loguru import logger

from llmpipe._dependencies import loguru_gate

__all__ = [
    "Forwarder",
    "active",
    "debug",
    "disable_logging",
    "enable_logging",
    "enabled",
    "error",
    "info",
    "set_forwarder",
    "warning",
]

_ALL = 0
_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name} | {message}"
_threshold = _ALL  # loguru's enable/disable decides until enable_logging sets a level
_handler_id: int | None = None

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40


class Forwarder(Protocol):
    """Another destination for llmpipe's records than loguru."""

    def enabled(self, level_no: int) -> bool:
        """Whether a record at this level would be taken (cheap: asked per call)."""

    def forward(self, level_no: int, message: str, fields: dict[str, Any]) -> None:
        """Take one record: its level, message template and structured fields."""


_forwarder: Forwarder | None = None


def set_forwarder(forwarder: Forwarder | None) -> Forwarder | None:
    """Send every record to ``forwarder`` as well (None: stop); returns the one
    it replaces, so a caller that borrows the slot can give it back."""
    global _forwarder
    previous, _forwarder = _forwarder, forwarder
    return previous


def enable_logging(level: str | int = "INFO", sink: Any = None) -> int | None:
    """Log llmpipe's records at ``level`` and above.

    Without ``sink`` they go to the application's loguru handlers (loguru's
    default stderr handler in a plain script). With a ``sink`` (a file, a
    stream, a callable), one handler taking only llmpipe's records is added
    and its id returned; calling again replaces it.
    """
    global _threshold, _handler_id
    disable_logging()
    _threshold = level if isinstance(level, int) else logger.level(level).no
    logger.enable("llmpipe")
    if sink is not None:
        _handler_id = logger.add(sink, level=level, filter="llmpipe", format=_FORMAT)
    return _handler_id


def disable_logging() -> None:
    """Silence llmpipe again and remove the handler ``enable_logging`` added."""
    global _threshold, _handler_id
    _threshold = _ALL
    logger.disable("llmpipe")
    if _handler_id is not None:
        logger.remove(_handler_id)
        _handler_id = None


def enabled(level_no: int) -> bool:
    """Whether records at this level pass llmpipe's own gate."""
    return level_no >= _threshold


def active(module: str, level_no: int) -> bool:
    """Whether a record from ``module`` at this level would reach any handler.

    For the hot path: when logging is off, the logging middleware skips
    building its records at all. Reads loguru's per-module cache of
    ``logger.enable``/``disable`` decisions; when that cache has no answer yet
    (or loguru's internals differ), it says True and loguru decides.
    """
    forwarder = _forwarder
    if forwarder is not None and forwarder.enabled(level_no):
        return True
    if level_no < _threshold:
        return False
    return loguru_gate(logger, module, level_no) is not False


def _log(level: str, level_no: int, message: str, fields: dict[str, Any]) -> None:
    if level_no >= _threshold:
        logger.opt(depth=2).log(level, message, **fields)
    forwarder = _forwarder
    if forwarder is not None:
        forwarder.forward(level_no, message, fields)


def debug(message: str, **fields: Any) -> None:
    _log("DEBUG", DEBUG, message, fields)


def info(message: str, **fields: Any) -> None:
    _log("INFO", INFO, message, fields)


def warning(message: str, **fields: Any) -> None:
    _log("WARNING", WARNING, message, fields)


def error(message: str, **fields: Any) -> None:
    _log("ERROR", ERROR, message, fields)
