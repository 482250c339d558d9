"""The ``llmpipe`` command: chat, complete and list models from a shell, or serve
the bundled test server for demos.

Settings come from the environment (``LLMPIPE_BASE_URL`` or ``OPENAI_BASE_URL``,
``LLMPIPE_MODEL``, ``LLMPIPE_API_KEY`` or ``OPENAI_API_KEY``); flags override it. Expected
failures print one ``llmpipe: error: ...`` line and exit 1, so scripts can
rely on the exit code and people are not shown a traceback. The API key is
scrubbed from every error and log line the command prints.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from loguru import logger

from llmpipe._version import __version__
from llmpipe.config import LLMConfig
from llmpipe.errors import LLMError, LLMResponseError
from llmpipe.logs import disable_logging, enable_logging
from llmpipe.sync import LLM
from llmpipe.wire.convert import converter
from llmpipe.wire.models import Message

if TYPE_CHECKING:
    from llmpipe.testing import LLMServer

__all__ = ["READY_LINE", "build_parser", "main"]

PROG = "llmpipe"
# examples/run_all.py and the tests wait for this exact line: change them together.
READY_LINE = "llmpipe test server listening on {base_url}"

# Failures a user can cause and fix: reported in one line, never as a traceback.
_EXPECTED = (LLMError, ValueError, TypeError, OSError)
_KEY_VARIABLES = ("LLMPIPE_API_KEY", "OPENAI_API_KEY")
_CONFIG_FLAGS = (
    "base_url",
    "model",
    "api_key",
    "timeout",
    "max_retries",
    "temperature",
    "max_tokens",
)
_MASK = "***"

T = TypeVar("T")
Command = Callable[[LLM, argparse.Namespace], str]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; separate from ``main`` so its help can be tested alone."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Talk to an OpenAI-compatible server, or run llmpipe's test server.",
        epilog="Settings default to $LLMPIPE_BASE_URL (or $OPENAI_BASE_URL), $LLMPIPE_MODEL "
        "and $LLMPIPE_API_KEY (or $OPENAI_API_KEY); flags override them.",
    )
    parser.add_argument("--base-url", help="server URL (default http://127.0.0.1:8000)")
    parser.add_argument("--model", help="model id (default gpt-4)")
    parser.add_argument(
        "--api-key",
        help="API key; discouraged: it shows up in shell history and process lists, "
        "so set $LLMPIPE_API_KEY instead",
    )
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="per request (default 30)")
    parser.add_argument(
        "--max-retries", type=int, metavar="N", help="retries on 429, 5xx and network errors"
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log to stderr (-vv for debug)"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = commands.add_parser("chat", help="send one message, print the reply")
    chat.add_argument("message")
    chat.add_argument("--system", metavar="TEXT", help="a system message sent before MESSAGE")
    _sampling_options(chat)

    complete = commands.add_parser("complete", help="complete a prompt, print the text")
    complete.add_argument("prompt")
    _sampling_options(complete)

    models = commands.add_parser("models", help="print the server's model ids, one a line")
    models.add_argument("--json", action="store_true", help="print the whole reply as JSON")

    serve = commands.add_parser("serve", help="run the bundled test server until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    serve.add_argument(
        "--api-key", dest="server_api_key", metavar="KEY", help="require this key from clients"
    )
    return parser


def _sampling_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--temperature", type=float, metavar="T", help="0.0 to 2.0")
    parser.add_argument("--max-tokens", type=int, metavar="N", help="longest reply")
    parser.add_argument("--json", action="store_true", help="print the whole reply as JSON")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status (0, 1 on failure, 2 on usage)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # argparse has printed the help, version or usage error
        return stop.code if isinstance(stop.code, int) else 2
    scrub = _scrubber(_secrets(args))
    if args.verbose:
        _start_logging("DEBUG" if args.verbose > 1 else "INFO", scrub)
    try:
        if args.command == "serve":
            return _serve(args)
        output = _call(args)
    except _EXPECTED as error:
        _write(sys.stderr, f"{PROG}: error: {scrub(_one_line(error))}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if args.verbose:
            disable_logging()
    print(output)
    return 0


def _call(args: argparse.Namespace) -> str:
    """Build the config (flags over environment) and run a client command."""
    with LLM(LLMConfig.from_env(**_overrides(args))) as llm:
        return _COMMANDS[args.command](llm, args)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Only the flags given: the rest keep their environment or default values.

    Sampling flags become config fields too, so LLMConfig validates them and
    an error names the field.
    """
    given = {name: getattr(args, name, None) for name in _CONFIG_FLAGS}
    return {name: value for name, value in given.items() if value is not None}


def _chat(llm: LLM, args: argparse.Namespace) -> str:
    messages = [] if args.system is None else [Message("system", args.system)]
    messages.append(Message("user", args.message))
    response = llm.chat_completion(messages)
    return _dump(response) if args.json else _first(response.choices).message.text


def _complete(llm: LLM, args: argparse.Namespace) -> str:
    response = llm.completion(args.prompt)
    return _dump(response) if args.json else _first(response.choices).text


def _models(llm: LLM, args: argparse.Namespace) -> str:
    response = llm.list_models()
    return _dump(response) if args.json else "\n".join(model.id for model in response.data)


_COMMANDS: dict[str, Command] = {"chat": _chat, "complete": _complete, "models": _models}


def _first(choices: Sequence[T]) -> T:
    if not choices:
        raise LLMResponseError("the server replied with no choices")
    return choices[0]


def _dump(response: object) -> str:
    return json.dumps(converter.unstructure(response), indent=2, ensure_ascii=False)


# -- serve ---------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM; both are a normal, clean stop (exit 0)."""
    from llmpipe.testing import LLMServer  # only `serve` needs aiohttp's server side

    server = LLMServer(args.host, args.port, api_key=args.server_api_key)
    # KeyboardInterrupt: Ctrl-C came before the signal handlers were in place.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_until_signalled(server))
    return 0


async def _serve_until_signalled(server: LLMServer) -> None:
    loop = asyncio.get_running_loop()
    serving = asyncio.ensure_future(server.serve_forever(ready=_announce))
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, serving.cancel)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not main thread
            continue
        installed.append(signum)
    try:
        await serving
    except asyncio.CancelledError:
        if not serving.cancelled():
            raise
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def _announce(base_url: str) -> None:
    print(READY_LINE.format(base_url=base_url), flush=True)


# -- output hygiene --------------------------------------------------------------


def _secrets(args: argparse.Namespace) -> list[str]:
    """Every key this run may know, from flags or the environment."""
    candidates = [getattr(args, "api_key", None), getattr(args, "server_api_key", None)]
    candidates += [os.environ.get(name) for name in _KEY_VARIABLES]
    return sorted({key for key in candidates if key}, key=len, reverse=True)


def _scrubber(secrets: Sequence[str]) -> Callable[[str], str]:
    """Mask the keys in diagnostics, in case a server or proxy echoes one back."""

    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, _MASK)
        return text

    return scrub


def _start_logging(level: str, scrub: Callable[[str], str]) -> None:
    """Log to stderr through the scrubber. The command is the application here,
    so it may drop loguru's default handler, which would print every line twice."""
    with contextlib.suppress(ValueError):  # already removed by an earlier run
        logger.remove(0)
    enable_logging(level, sink=lambda record: _write(sys.stderr, scrub(record)))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _write(stream: Any, text: str) -> None:
    stream.write(text)
    stream.flush()
