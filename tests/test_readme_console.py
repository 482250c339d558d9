"""README's ``console`` blocks run as shown: each ``$ command`` is run by bash with
the venv's ``llmpipe`` on PATH, against the bundled server, and must print the
lines that follow it (stdout and stderr, as a terminal shows them; ``...``
stands for any text)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from llmpipe.testing import LLMServer

README = Path(__file__).resolve().parent.parent / "README.md"
VENV_BIN = Path(sys.executable).parent
NOT_PASSED_ON = ("LLMPIPE_", "OPENAI_")


@attrs.frozen
class Example:
    line: int
    command: str
    expected: str

    def matches(self, output: str) -> bool:
        pattern = ".*?".join(re.escape(part) for part in self.expected.split("..."))
        return re.fullmatch(pattern, output, flags=re.DOTALL) is not None


def examples(text: str) -> list[Example]:
    """Each ``$ `` line of a console block, with the lines after it up to the next."""
    found: list[Example] = []
    lines = text.splitlines()
    inside = False
    for number, line in enumerate(lines, start=1):
        if line.startswith("```"):
            inside = line == "```console"
        elif inside and line.startswith("$ "):
            found.append(Example(number, line[2:], ""))
        elif inside and found:
            last = found[-1]
            found[-1] = attrs.evolve(last, expected=f"{last.expected}{line}\n")
    return found


EXAMPLES = examples(README.read_text())


@pytest.fixture(scope="module")
def readme_server() -> Iterator[LLMServer]:
    server = LLMServer()
    with server.run_in_thread():
        yield server


def run(command: str, base_url: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_PASSED_ON)}
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}", LLMPIPE_BASE_URL=base_url)
    done = subprocess.run(
        ["bash", "-c", command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    return done.stdout


def test_the_readme_shows_the_cli_commands() -> None:
    commands = " ".join(example.command for example in EXAMPLES)
    for habit in ("--stream", "| llmpipe chat", "--json", "-m ", "-s ", "llmpipe models"):
        assert habit in commands


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"README.md:{e.line}" for e in EXAMPLES])
def test_readme_console_example_prints_what_it_shows(
    example: Example, readme_server: LLMServer
) -> None:
    assert (VENV_BIN / "llmpipe").exists(), "make install puts llmpipe next to python"
    output = run(example.command, readme_server.base_url)
    assert example.matches(output), f"README.md:{example.line}: {example.command}\n{output}"


def test_an_example_whose_output_differs_does_not_match() -> None:
    example = Example(1, "true", "Echo: Hi\n...\n")
    assert example.matches("Echo: Hi\nmore\n")
    assert not example.matches("Echo: Ho\nmore\n")
