"""Retries shown as they happen: one status line on a terminal's stderr, none when piped."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest

from llmpipe import logs
from llmpipe.cli import main
from llmpipe.testing import Fault, LLMServer
from tests.cli_support import run_on_terminal, run_piped, unused_port

CLEAR = "\r\x1b[K"


def test_on_a_terminal_each_retry_rewrites_one_status_line_then_the_error_replaces_it() -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    result = run_on_terminal("--base-url", url, "--max-retries", "2", "models")
    shown = result.terminal.split(CLEAR)
    assert result.returncode == 1
    assert shown[0] == ""  # nothing before the first status
    assert shown[1:3] == [
        "llmpipe: connection refused; retry 1/2 in 1.0 s\u2026",
        "llmpipe: connection refused; retry 2/2 in 2.0 s\u2026",
    ]
    assert shown[3].startswith("llmpipe: error: GET ")  # the status line erased first
    assert shown[3].count("\n") == 1
    assert len(shown) == 4


def test_a_status_line_is_erased_before_the_reply_is_printed(llm_server: LLMServer) -> None:
    llm_server.add_faults(Fault(status=503))
    result = run_on_terminal("chat", "Hi", LLMPIPE_BASE_URL=llm_server.base_url)
    assert (result.returncode, result.stdout) == (0, "Echo: Hi\n")
    assert result.terminal == f"{CLEAR}llmpipe: HTTP 503; retry 1/3 in 1.0 s\u2026{CLEAR}"


def test_piped_stderr_gets_no_status_only_the_final_error_line() -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    result = run_piped("--base-url", url, "--max-retries", "1", "models")
    assert result.returncode == 1
    assert "\r" not in result.stderr
    assert result.stderr.startswith("llmpipe: error: GET ")
    assert result.stderr.count("\n") == 1


def test_with_verbose_logs_the_retries_are_logged_not_shown_as_a_status() -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    result = run_on_terminal("-v", "--base-url", url, "--max-retries", "1", "models")
    assert result.returncode == 1
    assert CLEAR not in result.terminal
    assert "WARNING" in result.terminal  # the retry, as a log line


class _TerminalStderr(io.StringIO):
    """An in-memory stderr that says it is a terminal, so ``main`` shows its status line."""

    def isatty(self) -> bool:
        return True


class _Recorder:
    """A forwarder an application had installed before calling the CLI in process."""

    def __init__(self) -> None:
        self.records: list[str] = []

    def enabled(self, level_no: int) -> bool:
        return True

    def forward(self, level_no: int, message: str, fields: dict[str, Any]) -> None:
        self.records.append(message)


def test_main_run_in_process_gives_back_the_forwarder_it_borrowed_for_its_status_line(
    llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = _Recorder()
    monkeypatch.setattr(sys, "stderr", _TerminalStderr())
    previous = logs.set_forwarder(recorder)
    try:
        assert main(["--base-url", llm_server.base_url, "chat", "Hi"]) == 0
    finally:
        restored = logs.set_forwarder(previous)
    assert restored is recorder
