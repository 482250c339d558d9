"""Every Python snippet in README.md runs against the bundled server.

Each snippet runs in a child process of its own (tests/readme_run.py), so
what one sets globally (a tracer provider, stdlib logging, environment
variables) cannot leak into another or into the rest of the suite. The child
reaches the test server through ``LLMPIPE_BASE_URL`` (and redis through
``REDIS_URL``), the variables the README documents; how a fragment continues
from the prose around it is declared in the README itself (tests/readme_snippets.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmpipe.testing import LLMServer
from tests.readme_snippets import MarkerError, Snippet, parse

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RUNNER = ROOT / "tests" / "readme_run.py"
SNIPPETS = parse(README)
# The user's own settings must not steer the snippets to another server or key.
NOT_PASSED_ON = ("LLMPIPE_", "OPENAI_")
CHILD_TIMEOUT = 90


@pytest.fixture(scope="module")
def readme_server() -> Iterator[LLMServer]:
    server = LLMServer()
    with server.run_in_thread():
        yield server


def run_snippet(
    path: Path, line: int, base_url: str, redis_url: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(NOT_PASSED_ON)}
    env.update(LLMPIPE_BASE_URL=base_url, REDIS_URL=redis_url, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, str(RUNNER), str(path), str(line)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
    )


def test_every_python_fence_is_a_snippet():
    fences = sum(1 for line in README.read_text().splitlines() if line.strip() == "```python")
    assert len(SNIPPETS) == fences > 20


def test_python_is_never_fenced_under_another_name():
    """`py`, `python3` or `pycon` fences would escape the runner: write ```python."""
    fences = {
        line.strip()[3:]
        for line in README.read_text().splitlines()
        if line.strip().startswith("```")
    }
    assert fences & {"py", "python3", "pycon", "Python"} == set()


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.where for s in SNIPPETS])
def test_readme_snippet_runs(
    snippet: Snippet, readme_server: LLMServer, redis_url: str, tmp_path: Path
):
    done = run_snippet(README, snippet.line, readme_server.base_url, redis_url, tmp_path)
    assert done.returncode == 0, f"{snippet.where} failed:\n{done.stderr}"
    for complaint in ("ResourceWarning", "Traceback", "was never awaited"):
        assert complaint not in done.stderr, f"{snippet.where}:\n{done.stderr}"


def _markdown(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(text)
    return path


def test_a_failing_snippet_is_reported_at_its_markdown_line(
    readme_server: LLMServer, tmp_path: Path
):
    doc = _markdown(
        tmp_path, "# doc\n\n```python\nx = 1\nraise RuntimeError('broken on purpose')\n```\n"
    )
    done = run_snippet(doc, 4, readme_server.base_url, "redis://unused", tmp_path)
    assert done.returncode == 1
    assert f'File "{doc}", line 5' in done.stderr
    assert "RuntimeError: broken on purpose" in done.stderr


def test_a_snippet_with_top_level_await_runs_in_an_event_loop(
    readme_server: LLMServer, tmp_path: Path
):
    doc = _markdown(
        tmp_path,
        "<!-- snippet: setup=async-client -->\n```python\n"
        "reply = await llm.chat_completion(messages)\n"
        "assert reply.choices[0].message.content == 'Echo: Hello!', reply\n```\n",
    )
    done = run_snippet(doc, 3, readme_server.base_url, "redis://unused", tmp_path)
    assert done.returncode == 0, done.stderr


def test_a_continued_snippet_sees_the_names_of_the_one_before(
    readme_server: LLMServer, tmp_path: Path
):
    doc = _markdown(
        tmp_path,
        "<!-- snippet: name=first -->\n```python\nanswer = 42\n```\n\n"
        "<!-- snippet: continues=first -->\n```python\nassert answer == 41, answer\n```\n",
    )
    done = run_snippet(doc, 8, readme_server.base_url, "redis://unused", tmp_path)
    assert done.returncode == 1
    assert "AssertionError: 42" in done.stderr


def test_serves_replaces_the_url_shown_with_the_test_servers(
    readme_server: LLMServer, tmp_path: Path
):
    doc = _markdown(
        tmp_path,
        "<!-- snippet: serves=http://127.0.0.1:8000 -->\n```python\n"
        "from llmpipe import LLM, LLMConfig\n"
        "with LLM(LLMConfig(base_url='http://127.0.0.1:8000')) as llm:\n"
        "    assert llm.list_models().data\n```\n",
    )
    done = run_snippet(doc, 3, readme_server.base_url, "redis://unused", tmp_path)
    assert done.returncode == 0, done.stderr
    assert readme_server.requests[-1].path == "/v1/models"


def test_serves_fails_when_the_snippet_does_not_show_that_url(
    readme_server: LLMServer, tmp_path: Path
):
    doc = _markdown(
        tmp_path, "<!-- snippet: serves=http://127.0.0.1:8000 -->\n```python\nx = 1\n```\n"
    )
    done = run_snippet(doc, 3, readme_server.base_url, "redis://unused", tmp_path)
    assert done.returncode == 1
    assert "does not show that URL" in done.stderr


def test_an_unknown_setup_is_refused(readme_server: LLMServer, tmp_path: Path):
    doc = _markdown(tmp_path, "<!-- snippet: setup=nonesuch -->\n```python\nx = 1\n```\n")
    done = run_snippet(doc, 3, readme_server.base_url, "redis://unused", tmp_path)
    assert done.returncode == 1
    assert "setup=nonesuch is not in tests/readme_setups.py" in done.stderr


def test_a_marker_with_an_unknown_key_is_refused(tmp_path: Path):
    doc = _markdown(tmp_path, "<!-- snippet: contineus=first -->\n```python\nx = 1\n```\n")
    with pytest.raises(MarkerError, match=r"doc.md:1: snippet marker item 'contineus=first'"):
        parse(doc)


def test_a_marker_away_from_a_fence_is_refused(tmp_path: Path):
    doc = _markdown(tmp_path, "<!-- snippet: name=a -->\n\n```python\nx = 1\n```\n")
    with pytest.raises(MarkerError, match="must be right above a ```python fence"):
        parse(doc)


def test_continuing_an_unknown_name_is_refused(readme_server: LLMServer, tmp_path: Path):
    doc = _markdown(tmp_path, "<!-- snippet: continues=nowhere -->\n```python\nx = 1\n```\n")
    done = run_snippet(doc, 3, readme_server.base_url, "redis://unused", tmp_path)
    assert done.returncode == 1
    assert "continues=nowhere, but no snippet has that name" in done.stderr
