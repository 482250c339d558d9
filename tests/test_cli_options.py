"""The habits users bring from ``llm`` and the ``openai`` CLI: short flags, options after
the command, help that shows defaults."""

from __future__ import annotations

import re

import pytest

from llmpipe.cli import main
from llmpipe.testing import LLMServer

Capture = pytest.CaptureFixture[str]


def test_short_model_and_system_flags_after_the_command(
    capsys: Capture, llm_server: LLMServer
) -> None:
    argv = ["chat", "-m", "gpt-4o-mini", "-s", "Be brief.", "Hi", "--base-url", llm_server.base_url]
    code = main(argv)
    body = llm_server.requests[0].json
    assert code == 0
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}


def test_an_option_after_the_command_beats_the_same_option_before_it(
    capsys: Capture, llm_server: LLMServer
) -> None:
    main(["--base-url", llm_server.base_url, "-m", "gpt-4", "chat", "-m", "gpt-4o-mini", "Hi"])
    assert llm_server.requests[0].json["model"] == "gpt-4o-mini"


def test_an_option_before_the_command_is_kept_when_the_command_does_not_repeat_it(
    capsys: Capture, llm_server: LLMServer
) -> None:
    main(["--base-url", llm_server.base_url, "--model", "gpt-4o-mini", "chat", "Hi"])
    assert llm_server.requests[0].json["model"] == "gpt-4o-mini"


def test_key_is_accepted_as_a_synonym_of_api_key(capsys: Capture, llm_server: LLMServer) -> None:
    main(["--base-url", llm_server.base_url, "models", "--key", "sk-test-123456"])
    assert llm_server.requests[0].headers["Authorization"] == "Bearer sk-test-123456"


def test_serve_help_shows_every_options_default(capsys: Capture) -> None:
    assert main(["serve", "--help"]) == 0
    options = capsys.readouterr().out.split("options:\n", 1)[1]
    entries = [" ".join(entry.split()) for entry in re.split(r"\n  (?=-)", options)]
    described = {entry.split()[0].strip(","): entry for entry in entries}
    assert sorted(described) == ["--api-key", "--host", "--port", "-h"]
    for flag, entry in described.items():
        assert flag == "-h" or "(default: " in entry, entry
    assert "(default: 8000)" in described["--port"]
    assert "(default: 127.0.0.1)" in described["--host"]


def test_chat_help_shows_the_defaults_of_the_sampling_options(capsys: Capture) -> None:
    assert main(["chat", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "0.0 to 2.0 (default: 0.7)" in help_text
    assert "(default: --no-stream)" in help_text
    assert "-m MODEL, --model MODEL" in help_text
    assert "-s TEXT, --system TEXT" in help_text


def test_a_prompt_without_a_command_is_a_chat(capsys: Capture, llm_server: LLMServer) -> None:
    code = main(["--base-url", llm_server.base_url, "-m", "gpt-4o-mini", "Hello there"])
    assert (code, capsys.readouterr().out) == (0, "Echo: Hello there\n")
    assert llm_server.requests[0].json["model"] == "gpt-4o-mini"


def test_a_word_close_to_a_command_is_refused_not_sent_as_a_prompt(
    capsys: Capture, llm_server: LLMServer
) -> None:
    code = main(["--base-url", llm_server.base_url, "modles"])
    assert code == 2
    assert "invalid choice: 'modles'" in capsys.readouterr().err
    assert llm_server.requests == []
