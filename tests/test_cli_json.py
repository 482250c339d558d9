"""``--json``: stdout holds only JSON, failures are one JSON line on stderr."""

from __future__ import annotations

import json

import pytest

from llmpipe import LLM, LLMConfig
from llmpipe.cli import main
from llmpipe.testing import Fault, LLMServer
from tests.cli_support import run_piped, unused_port

Capture = pytest.CaptureFixture[str]


def test_connection_refused_is_one_json_line_on_stderr_and_nothing_on_stdout(
    capsys: Capture,
) -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    code = main(["--base-url", url, "--max-retries", "0", "chat", "Hi", "--json"])
    out, err = capsys.readouterr()
    assert (code, out, err.count("\n")) == (1, "", 1)
    error = json.loads(err)["error"]
    assert (error["type"], error["status"], error["request_id"]) == (
        "LLMConnectionError",
        None,
        None,
    )
    assert "cannot connect" in error["message"]


def test_an_api_error_carries_its_status_and_request_id(
    capsys: Capture, llm_server: LLMServer
) -> None:
    argv = ["--base-url", llm_server.base_url, "-m", "no-such-model", "--json", "chat", "Hi"]
    code = main(argv)
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert json.loads(err) == {
        "error": {
            "type": "NotFoundError",
            "message": "404: chat/completions: The model `no-such-model` does not exist. "
            "(request id req-1)",
            "status": 404,
            "request_id": "req-1",
        }
    }


def test_a_bad_setting_is_a_json_error_too(capsys: Capture) -> None:
    code = main(["--json", "--timeout", "0", "models"])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert json.loads(err)["error"]["type"] == "ValueError"


def test_json_is_accepted_before_the_command(capsys: Capture, llm_server: LLMServer) -> None:
    code = main(["--json", "--base-url", llm_server.base_url, "models"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["object"] == "list"


def test_verbose_logs_stay_off_stdout(llm_server: LLMServer) -> None:
    result = run_piped("-v", "chat", "--json", "Hi", LLMPIPE_BASE_URL=llm_server.base_url)
    assert result.returncode == 0
    assert json.loads(result.stdout)["choices"][0]["message"]["content"] == "Echo: Hi"
    assert "request POST chat/completions" in result.stderr  # the log lines went here


def test_a_retried_call_prints_only_the_reply_on_stdout(llm_server: LLMServer) -> None:
    llm_server.add_faults(Fault(status=503))
    result = run_piped("chat", "--json", "Hi", LLMPIPE_BASE_URL=llm_server.base_url)
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout)["choices"][0]["message"]["content"] == "Echo: Hi"
    assert len(llm_server.requests) == 2


def test_a_usage_mistake_is_a_json_line_too_exit_2(capsys: Capture) -> None:
    code = main(["chat", "Hi", "--json", "--no-such-option"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert json.loads(err) == {
        "error": {
            "type": "UsageError",
            "message": "unrecognized arguments: --no-such-option",
            "status": None,
            "request_id": None,
        }
    }


def test_a_usage_mistake_masks_a_key_given_on_the_command_line(capsys: Capture) -> None:
    code = main(["--key", "sk-secret-1234", "--timeout", "sk-secret-1234", "models"])
    err = capsys.readouterr().err
    assert code == 2
    assert "invalid float value: '***'" in err
    assert "sk-secret-1234" not in err


def test_a_reply_is_printed_as_the_server_sent_it(capsys: Capture, llm_server: LLMServer) -> None:
    code = main(["--base-url", llm_server.base_url, "--json", "chat", "Hi"])
    printed = json.loads(capsys.readouterr().out)
    body = {"model": "gpt-4", "messages": [{"role": "user", "content": "Hi"}]}
    with LLM(LLMConfig(base_url=llm_server.base_url)) as llm:
        sent = llm.request("POST", "chat/completions", json=body).json()
    assert code == 0
    assert {**printed, "id": None} == {**sent, "id": None}  # ids count the server's replies
