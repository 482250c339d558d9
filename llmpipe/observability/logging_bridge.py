"""llmpipe's log records in the standard ``logging`` module, for applications
that do not use loguru.

``enable_stdlib_logging()`` is the one call: from then on every record
llmpipe writes also goes to the stdlib logger ``llmpipe``, whose level and
handlers the application configures as usual (records below its level are
not even built). Each record's structured fields (``endpoint``, ``status``,
``elapsed``, ...) are attributes of the ``LogRecord``, as ``extra=`` sets
them; a field whose name a ``LogRecord`` already has gets an ``llmpipe_``
prefix. The record points at the llmpipe line that wrote it. Independent of
loguru: ``enable_logging``/``disable_logging`` and ``logger.disable("llmpipe")``
do not affect it, nor it them.
"""

from __future__ import annotations

import logging
from typing import Any

from llmpipe import logs

__all__ = ["LOGGER_NAME", "disable_stdlib_logging", "enable_stdlib_logging"]

LOGGER_NAME = "llmpipe"

_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# The frames between a llmpipe module's log call and Logger.log: this module's
# forward(), logs._log() and logs.info() (or debug/warning/error).
_STACK_LEVEL = 4


class _StdlibForwarder:
    """A ``logs.Forwarder`` writing to one stdlib logger."""

    __slots__ = ("logger",)

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def enabled(self, level_no: int) -> bool:
        return self.logger.isEnabledFor(level_no)

    def forward(self, level_no: int, message: str, fields: dict[str, Any]) -> None:
        logger = self.logger
        if not logger.isEnabledFor(level_no):
            return
        extra = {(f"llmpipe_{k}" if k in _RESERVED else k): v for k, v in fields.items()}
        logger.log(level_no, message.format(**fields), extra=extra, stacklevel=_STACK_LEVEL)


def enable_stdlib_logging(logger: str | logging.Logger = LOGGER_NAME) -> logging.Logger:
    """Send llmpipe's log records to the stdlib ``logger`` (default ``llmpipe``);
    returns it. Configure it as any stdlib logger::

        logging.basicConfig(level=logging.INFO)
        llmpipe.enable_stdlib_logging()
    """
    if isinstance(logger, str):
        logger = logging.getLogger(logger)
    elif not isinstance(logger, logging.Logger):
        raise TypeError(
            f"logger must be a logger name or a logging.Logger, got {type(logger).__name__}"
        )
    logs.set_forwarder(_StdlibForwarder(logger))
    return logger


def disable_stdlib_logging() -> None:
    """Stop sending llmpipe's records to the stdlib logger."""
    logs.set_forwarder(None)
