"""Run one README snippet, as a user would paste it: ``python tests/readme_run.py FILE LINE``.

LINE is the snippet's first line of code (see tests/readme_snippets.py). The
hidden setups and the snippets it continues from run first, in one namespace;
top-level ``await`` runs in one event loop for the whole chain. Code is
compiled under the Markdown file's name with its own line numbers, so a
traceback points at the README line that failed. Every ``LLM``/``AsyncLLM``
left in the namespace is closed at the end, as the prose around a fragment
would. Exit status 0 means the snippet ran.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import sys
import types
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llmpipe import LLM, AsyncLLM
from tests.readme_setups import SETUPS
from tests.readme_snippets import MarkerError, Snippet, chain, parse, snippet_at


def _run(
    code: str, filename: str, first_line: int, namespace: dict[str, Any], runner: asyncio.Runner
) -> None:
    padded = "\n" * (first_line - 1) + code  # tracebacks show the file's own line numbers
    compiled = compile(padded, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(compiled, namespace)
    if inspect.iscoroutine(result):
        runner.run(result)


def _code(snippet: Snippet) -> str:
    if snippet.serves is None:
        return snippet.code
    if snippet.serves not in snippet.code:
        raise MarkerError(
            f"{snippet.where}: serves={snippet.serves}, but the snippet does not show that URL"
        )
    return snippet.code.replace(snippet.serves, os.environ["LLMPIPE_BASE_URL"])


def _close_clients(namespace: dict[str, Any], runner: asyncio.Runner) -> None:
    for value in list(namespace.values()):
        if isinstance(value, LLM):
            value.close()
        elif isinstance(value, AsyncLLM):
            runner.run(value.close())


def main(path: Path, line: int) -> None:
    snippets = parse(path)
    order = chain(snippets, snippet_at(snippets, line))
    # A module of its own, as a script's: attrs and cattrs resolve annotations through it.
    script = types.ModuleType("__main__")
    sys.modules["__main__"] = script
    namespace = script.__dict__
    with asyncio.Runner() as runner:
        try:
            for snippet in order:
                for name in snippet.setups:
                    if name not in SETUPS:
                        raise MarkerError(
                            f"{snippet.where}: setup={name} is not in tests/readme_setups.py"
                        )
                    _run(SETUPS[name], f"<setup {name}>", 1, namespace, runner)
                _run(_code(snippet), str(path), snippet.line, namespace, runner)
        finally:
            _close_clients(namespace, runner)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
