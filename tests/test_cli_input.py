"""Where the prompt comes from: the argument, '-' for stdin, or a pipe with no argument."""

from __future__ import annotations

from llmpipe.testing import LLMServer
from tests.cli_support import run_on_terminal, run_piped


def test_dash_reads_the_message_from_stdin(llm_server: LLMServer) -> None:
    result = run_piped(
        "chat", "-", stdin="Hello from a pipe\n", LLMPIPE_BASE_URL=llm_server.base_url
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "Echo: Hello from a pipe\n", "")


def test_a_pipe_without_a_message_argument_is_read_as_the_message(llm_server: LLMServer) -> None:
    result = run_piped("chat", stdin="Piped words\n", LLMPIPE_BASE_URL=llm_server.base_url)
    assert (result.returncode, result.stdout) == (0, "Echo: Piped words\n")


def test_a_message_argument_wins_over_a_pipe(llm_server: LLMServer) -> None:
    result = run_piped("chat", "Argument", stdin="Piped", LLMPIPE_BASE_URL=llm_server.base_url)
    assert (result.returncode, result.stdout) == (0, "Echo: Argument\n")


def test_complete_reads_its_prompt_from_stdin_too(llm_server: LLMServer) -> None:
    result = run_piped("complete", "-", stdin="Once upon", LLMPIPE_BASE_URL=llm_server.base_url)
    assert (result.returncode, result.stdout) == (0, " Echo: Once upon\n")


def test_an_empty_stdin_is_a_usage_error_exit_2(llm_server: LLMServer) -> None:
    result = run_piped("chat", stdin="", LLMPIPE_BASE_URL=llm_server.base_url)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "llmpipe chat: error: the MESSAGE read from stdin is empty\n"
    assert llm_server.requests == []


def test_no_message_on_a_terminal_is_a_usage_error_not_a_wait_for_typing(
    llm_server: LLMServer,
) -> None:
    result = run_on_terminal("chat", stdin_terminal=True, LLMPIPE_BASE_URL=llm_server.base_url)
    assert result.returncode == 2
    assert result.terminal == (
        "llmpipe chat: error: give a MESSAGE, or pipe one in ('-' reads it from stdin)\n"
    )


def test_a_pipe_with_no_command_at_all_is_a_chat(llm_server: LLMServer) -> None:
    result = run_piped(stdin="Hello from a pipe", LLMPIPE_BASE_URL=llm_server.base_url)
    assert (result.returncode, result.stdout) == (0, "Echo: Hello from a pipe\n")


def test_no_command_on_a_terminal_is_a_usage_error_exit_2(llm_server: LLMServer) -> None:
    result = run_on_terminal(stdin_terminal=True, LLMPIPE_BASE_URL=llm_server.base_url)
    assert result.returncode == 2
    assert result.terminal.startswith("usage: llmpipe")
    assert result.terminal.endswith(
        "llmpipe: error: the following arguments are required: COMMAND\n"
    )
    assert llm_server.requests == []


def test_help_with_a_pipe_on_stdin_is_still_help() -> None:
    result = run_piped("--help", stdin="not a prompt")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: llmpipe")
