"""``main``: parse, run one command, report the outcome with an exit status.

Expected failures (a call that failed, a bad setting, a busy port) print one
line on stderr, never a traceback: 1 for a failed call, 2 for a usage
mistake, 130 for Ctrl-C. A closed stdout (``| head``) ends the command
quietly, as it does for other Unix tools.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from loguru import logger

from llmpipe import logs
from llmpipe.cli.commands import COMMANDS, read_prompt
from llmpipe.cli.output import Output, error_line, scrubber, secrets, write
from llmpipe.cli.parser import PROG, UsageError, build_parser
from llmpipe.cli.serve import ServeError, serve
from llmpipe.cli.shorthand import with_default_command
from llmpipe.cli.status import RetryStatus
from llmpipe.config import LLMConfig
from llmpipe.errors import LLMError
from llmpipe.sync import LLM

__all__ = ["main"]

# Failures a user can cause and fix: reported in one line, never as a traceback.
_EXPECTED = (LLMError, ServeError, ValueError, TypeError, OSError)
_KEY_FLAGS = ("--api-key", "--key")
_CONFIG_FLAGS = (
    "base_url",
    "model",
    "api_key",
    "timeout",
    "max_retries",
    "temperature",
    "max_tokens",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status (0, 1 on failure, 2 on usage)."""
    argv = with_default_command(sys.argv[1:] if argv is None else argv, _is_pipe(sys.stdin))
    try:
        args = build_parser().parse_args(argv)
    except UsageError as error:  # the keys are not parsed yet: mask any given
        keys = [value for flag, value in itertools.pairwise(argv) if flag in _KEY_FLAGS]
        return _usage_error(error, "--json" in argv, scrubber(secrets(*keys)))
    except SystemExit as stop:  # argparse has printed the help or the version
        return stop.code if isinstance(stop.code, int) else 2
    scrub = scrubber(secrets(getattr(args, "api_key", None), getattr(args, "server_api_key", None)))
    as_json = bool(getattr(args, "json", False))
    status: RetryStatus | None = None
    borrowed: logs.Forwarder | None = None
    if args.verbose:
        _start_logging("DEBUG" if args.verbose > 1 else "INFO", scrub)
    try:
        if args.command == "serve":
            return serve(args)
        prompt = _prompt(args)
        config = LLMConfig.from_env(**_overrides(args))
        if not args.verbose and sys.stderr is not None and sys.stderr.isatty():
            status = RetryStatus(sys.stderr, config.max_retries, PROG, scrub)
            borrowed = logs.set_forwarder(status)
        out = Output(sys.stdout, status.clear if status is not None else _nothing)
        with LLM(config) as llm:
            COMMANDS[args.command](llm, args, prompt, out)
    except UsageError as error:
        return _usage_error(error, as_json, scrub)
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except _EXPECTED as error:
        _clear(status)
        write(sys.stderr, error_line(PROG, error, as_json, scrub))
        return 1
    except KeyboardInterrupt:
        _clear(status)
        return 130
    finally:
        if status is not None:
            logs.set_forwarder(borrowed)
        if args.verbose:
            logs.disable_logging()
    return 0


def _prompt(args: argparse.Namespace) -> str:
    if args.command == "chat":
        return read_prompt(args.message, sys.stdin, f"{PROG} chat", "MESSAGE")
    if args.command == "complete":
        return read_prompt(args.prompt, sys.stdin, f"{PROG} complete", "PROMPT")
    return ""


def _usage_error(error: UsageError, as_json: bool, scrub: Callable[[str], str]) -> int:
    """argparse's format (usage, then ``prog: error: ...``), or one JSON line."""
    if as_json:
        write(sys.stderr, error_line(error.prog, error, True, scrub))
    else:
        write(sys.stderr, f"{error.usage}{error.prog}: error: {scrub(str(error))}\n")
    return 2


def _is_pipe(stdin: TextIO | None) -> bool:
    """Whether stdin can give a prompt: open, and not a terminal."""
    try:
        return stdin is not None and not stdin.isatty()
    except ValueError:  # closed
        return False


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Only the flags given: the rest keep their environment or default values.

    Sampling flags become config fields too, so LLMConfig validates them and
    an error names the field.
    """
    given = {name: getattr(args, name, None) for name in _CONFIG_FLAGS}
    return {name: value for name, value in given.items() if value is not None}


def _nothing() -> None:
    return None


def _clear(status: RetryStatus | None) -> None:
    if status is not None:
        status.clear()


def _silence_stdout() -> None:
    """The reader went away: point stdout at /dev/null so the interpreter's
    final flush does not raise a second BrokenPipeError."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _start_logging(level: str, scrub: Callable[[str], str]) -> None:
    """Log to stderr through the scrubber. The command is the application here,
    so it may drop loguru's default handler, which would print every line twice."""
    with contextlib.suppress(ValueError):  # already removed by an earlier run
        logger.remove(0)
    logs.enable_logging(level, sink=lambda record: write(sys.stderr, scrub(record)))
