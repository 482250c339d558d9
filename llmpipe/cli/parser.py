"""The ``llmpipe`` argument parser: every option, its default and its help, in one place.

The client options (``--base-url``, ``-m/--model``, ``--json``...) are accepted
before the command and after it (``llmpipe chat -m gpt-4o "Hi"``, as ``llm``
users type it); given after, they win.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

import attrs

from llmpipe._version import __version__
from llmpipe.config import LLMConfig

__all__ = ["PROG", "Parser", "UsageError", "build_parser"]

PROG = "llmpipe"
_DEFAULTS = {field.name: field.default for field in attrs.fields(LLMConfig)}
_EPILOG = (
    "Settings default to $LLMPIPE_BASE_URL (or $OPENAI_BASE_URL), $LLMPIPE_MODEL and "
    "$LLMPIPE_API_KEY (or $OPENAI_API_KEY); flags override them. Exit status: 0 done, "
    "1 the call failed, 2 a usage mistake, 130 interrupted."
)


class UsageError(Exception):
    """The command line asks for something impossible (exit status 2)."""

    def __init__(self, message: str, prog: str = PROG, usage: str = "") -> None:
        super().__init__(message)
        self.prog = prog
        self.usage = usage


class Parser(argparse.ArgumentParser):
    """Raises ``UsageError`` instead of printing and exiting, so that ``main``
    reports it in the run's format (one JSON line with ``--json``)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.prog, self.format_usage())


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; separate from ``main`` so its help can be tested alone."""
    parser = Parser(
        prog=PROG,
        usage="%(prog)s [options] COMMAND ... | %(prog)s [options] PROMPT",
        description="Talk to an OpenAI-compatible server, or run llmpipe's test server. "
        'A PROMPT with no COMMAND is a chat: llmpipe "Hello" is llmpipe chat "Hello".',
        epilog=_EPILOG,
    )
    _client_options(parser, None)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = commands.add_parser(
        "chat",
        help="send one message, print the reply",
        description="Send one user message (after an optional system message); print the reply.",
        epilog=_EPILOG,
    )
    chat.add_argument(
        "message",
        nargs="?",
        help="the user message; '-' reads it from stdin, as does a pipe with no MESSAGE",
    )
    chat.add_argument("-s", "--system", metavar="TEXT", help="a system message sent first")
    _generation_options(chat)
    _client_options(chat, argparse.SUPPRESS)

    complete = commands.add_parser(
        "complete",
        help="complete a prompt, print the text",
        description="Complete PROMPT with the legacy /completions endpoint; print the text.",
        epilog=_EPILOG,
    )
    complete.add_argument(
        "prompt", nargs="?", help="'-' reads it from stdin, as does a pipe with no PROMPT"
    )
    _generation_options(complete)
    _client_options(complete, argparse.SUPPRESS)

    models = commands.add_parser(
        "models", help="print the server's model ids, one a line", epilog=_EPILOG
    )
    _client_options(models, argparse.SUPPRESS)

    serve = commands.add_parser(
        "serve",
        help="run the bundled test server until Ctrl-C",
        description="Run llmpipe's OpenAI-compatible test server (it echoes the last "
        "message) until Ctrl-C or SIGTERM.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument(
        "--port", type=int, default=8000, help="0 picks a free port (default: %(default)s)"
    )
    serve.add_argument(
        "--api-key",
        dest="server_api_key",
        metavar="KEY",
        help="require this key from clients (default: none, every client is served)",
    )
    return parser


def _client_options(parser: argparse.ArgumentParser, default: object) -> None:
    """The options of every client command. ``default`` is None on the top-level
    parser and SUPPRESS on a command's, so a value given before the command is
    not reset by the command's own default."""

    def add(*flags: str, **options: object) -> None:
        parser.add_argument(*flags, default=default, **options)  # type: ignore[arg-type]

    add(
        "--base-url",
        metavar="URL",
        help=f"server URL (default: $LLMPIPE_BASE_URL, else {_DEFAULTS['base_url']})",
    )
    add(
        "-m",
        "--model",
        help=f"model id (default: $LLMPIPE_MODEL, else {_DEFAULTS['model']})",
    )
    add(
        "--api-key",
        "--key",
        dest="api_key",
        metavar="KEY",
        help="API key; discouraged: it shows up in shell history and process lists, "
        "so set $LLMPIPE_API_KEY instead",
    )
    add(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"per attempt (default: {_DEFAULTS['timeout']})",
    )
    add(
        "--max-retries",
        type=int,
        metavar="N",
        help=f"retries on 429, 5xx and network errors (default: {_DEFAULTS['max_retries']})",
    )
    add(
        "--json",
        action="store_true",
        help="print the whole reply as JSON (a stream: one JSON chunk a line); "
        "errors go to stderr as one JSON line",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if default is None else default,
        help="log to stderr (-vv for debug)",
    )


def _generation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--temperature",
        type=float,
        metavar="T",
        help=f"0.0 to 2.0 (default: {_DEFAULTS['temperature']})",
    )
    parser.add_argument(
        "--max-tokens", type=int, metavar="N", help="longest reply (default: the server's)"
    )
    parser.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="print the reply as it arrives, token by token (default: --no-stream)",
    )
