"""Tests of llmpipe.cli over real loopback HTTP against the bundled server.

Most tests call ``main([...])`` in process and read capsys; the ``serve``
tests and one client test run ``python -m llmpipe`` as a real subprocess.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from llmpipe.cli import main
from llmpipe.testing import DEFAULT_MODELS, Fault, LLMServer

ENV_VARIABLES = (
    "LLMPIPE_BASE_URL",
    "OPENAI_BASE_URL",
    "LLMPIPE_MODEL",
    "LLMPIPE_API_KEY",
    "OPENAI_API_KEY",
)
READY = re.compile(r"^llmpipe test server listening on (http://127\.0\.0\.1:(\d+))\n$")
SERVER_KEY = "sk-right-key-5f1d2c"
WRONG_KEY = "sk-wrong-key-9a8b7c"
Capture = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own LLMPIPE_* or OPENAI_API_KEY must not leak into a test."""
    for name in ENV_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def run(capsys: Capture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARIABLES}
    return {**env, **extra}


def read_line(process: subprocess.Popen[str], timeout: float = 20.0) -> str:
    """The child's first stdout line, or fail after ``timeout`` seconds."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            pytest.fail(f"no line from the child within {timeout} s")
    return process.stdout.readline()


@contextlib.contextmanager
def serve_process(*options: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``python -m llmpipe serve --port 0`` as a child; yields it and its base URL."""
    command = [sys.executable, "-m", "llmpipe", "serve", "--port", "0", *options]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env()
    ) as process:
        try:
            line = read_line(process)
            match = READY.match(line)
            assert match, f"unexpected ready line {line!r}"
            yield process, match.group(1)
        finally:
            if process.poll() is None:
                process.kill()


# --- chat ---------------------------------------------------------------------


def test_chat_prints_the_reply_text(capsys: Capture, llm_server: LLMServer) -> None:
    code, out, err = run(capsys, "--base-url", llm_server.base_url, "chat", "Hello there")
    assert (code, out, err) == (0, "Echo: Hello there\n", "")


def test_chat_sends_the_system_message_first(capsys: Capture, llm_server: LLMServer) -> None:
    run(capsys, "--base-url", llm_server.base_url, "chat", "Hi", "--system", "Be brief.")
    assert llm_server.requests[0].json["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]


def test_chat_sends_temperature_and_max_tokens(capsys: Capture, llm_server: LLMServer) -> None:
    argv = ["chat", "one two three", "--temperature", "0.2", "--max-tokens", "2"]
    code, out, _ = run(capsys, "--base-url", llm_server.base_url, *argv)
    body = llm_server.requests[0].json
    assert (body["temperature"], body["max_tokens"]) == (0.2, 2)
    assert (code, out) == (0, "Echo: one\n")


def test_chat_json_prints_the_whole_response(capsys: Capture, llm_server: LLMServer) -> None:
    code, out, _ = run(capsys, "--base-url", llm_server.base_url, "chat", "Hi", "--json")
    reply = json.loads(out)
    assert code == 0
    message = reply["choices"][0]["message"]
    assert (message["role"], message["content"]) == ("assistant", "Echo: Hi")
    assert reply["id"] == "chatcmpl-1"
    assert reply["usage"]["total_tokens"] == 3


# --- complete and models ------------------------------------------------------


def test_complete_prints_the_completion_text(capsys: Capture, llm_server: LLMServer) -> None:
    code, out, _ = run(capsys, "--base-url", llm_server.base_url, "complete", "Once upon a time")
    assert (code, out) == (0, " Echo: Once upon a time\n")


def test_complete_json_prints_the_whole_response(capsys: Capture, llm_server: LLMServer) -> None:
    code, out, _ = run(capsys, "--base-url", llm_server.base_url, "complete", "Hi", "--json")
    reply = json.loads(out)
    assert code == 0
    assert reply["object"] == "text_completion"
    assert reply["choices"][0]["text"] == " Echo: Hi"


def test_models_prints_one_id_per_line(capsys: Capture, llm_server: LLMServer) -> None:
    code, out, _ = run(capsys, "--base-url", llm_server.base_url, "models")
    assert code == 0
    assert out.splitlines() == list(DEFAULT_MODELS)


def test_models_json_prints_the_whole_list(capsys: Capture, llm_server: LLMServer) -> None:
    code, out, _ = run(capsys, "--base-url", llm_server.base_url, "models", "--json")
    assert code == 0
    assert [model["id"] for model in json.loads(out)["data"]] == list(DEFAULT_MODELS)


# --- configuration from the environment ---------------------------------------


def test_env_vars_choose_the_server_and_model(
    capsys: Capture, llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMPIPE_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("LLMPIPE_MODEL", "gpt-4o-mini")
    code, _, _ = run(capsys, "chat", "Hi")
    assert code == 0
    assert llm_server.requests[0].json["model"] == "gpt-4o-mini"


def test_flags_override_env_vars(
    capsys: Capture, llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMPIPE_BASE_URL", f"http://127.0.0.1:{unused_port()}")
    monkeypatch.setenv("LLMPIPE_MODEL", "gpt-4o-mini")
    argv = ["--base-url", llm_server.base_url, "--model", "llama-3-8b-instruct", "chat", "Hi"]
    code, _, _ = run(capsys, *argv)
    assert code == 0
    assert llm_server.requests[0].json["model"] == "llama-3-8b-instruct"


def test_openai_api_key_env_var_is_sent_as_bearer_token(
    capsys: Capture, llm_server: LLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)
    run(capsys, "--base-url", llm_server.base_url, "models")
    assert llm_server.requests[0].headers["Authorization"] == f"Bearer {SERVER_KEY}"


# --- errors -------------------------------------------------------------------


def test_connection_refused_prints_one_error_line_and_exits_1(capsys: Capture) -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    code, out, err = run(capsys, "--base-url", url, "--max-retries", "0", "chat", "Hi")
    assert (code, out) == (1, "")
    assert err.startswith("llmpipe: error: POST ")
    assert "cannot connect" in err
    assert err.count("\n") == 1


def test_unknown_model_reports_the_404_and_request_id(
    capsys: Capture, llm_server: LLMServer
) -> None:
    argv = ["--base-url", llm_server.base_url, "--model", "no-such-model", "chat", "Hi"]
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert err == (
        "llmpipe: error: 404: chat/completions: The model `no-such-model` does not exist. "
        "(request id req-1)\n"
    )


def test_wrong_api_key_reports_401_without_printing_the_key(capsys: Capture) -> None:
    server = LLMServer(api_key=SERVER_KEY)
    with server.run_in_thread():
        argv = ["--base-url", server.base_url, "--api-key", WRONG_KEY, "chat", "Hi"]
        code, out, err = run(capsys, *argv)
        sent = server.requests[0].headers["Authorization"]
    assert sent == f"Bearer {WRONG_KEY}"  # so its absence below means something
    assert code == 1
    assert err.startswith("llmpipe: error: 401: ")
    assert err.count("\n") == 1
    assert WRONG_KEY not in out + err


def test_verbose_logging_never_shows_the_api_key() -> None:
    # In a child process: -v reconfigures loguru, which is global to a process.
    server = LLMServer(api_key=SERVER_KEY)
    with server.run_in_thread():
        result = subprocess.run(
            [sys.executable, "-m", "llmpipe", "-vv", "--base-url", server.base_url, "chat", "Hi"],
            capture_output=True,
            text=True,
            timeout=60,
            env=child_env(LLMPIPE_API_KEY=WRONG_KEY),
            check=False,
        )
    assert result.returncode == 1
    assert "request POST chat/completions" in result.stderr  # the logs did run
    assert "parameters:" in result.stderr  # at DEBUG
    assert result.stderr.count("client ready") == 1  # once: loguru's default handler is gone
    assert WRONG_KEY not in result.stdout + result.stderr


def test_a_key_echoed_back_by_the_server_is_masked(capsys: Capture, llm_server: LLMServer) -> None:
    llm_server.add_faults(Fault(status=401, body={"error": {"message": f"bad key {WRONG_KEY}"}}))
    argv = ["--base-url", llm_server.base_url, "--api-key", WRONG_KEY, "models"]
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert err == (
        "llmpipe: error: 401: models: bad key *** (check the API key: give api_key= to LLM() "
        "or LLMConfig(), or set LLMPIPE_API_KEY or OPENAI_API_KEY, which LLMConfig.from_env() "
        "and the llmpipe CLI read) (request id req-1)\n"
    )


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        (["--timeout", "0"], "LLMConfig.timeout"),
        (["--max-retries", "-1"], "LLMConfig.max_retries"),
        (["--base-url", "localhost:8000"], "LLMConfig.base_url"),
        (["chat", "Hi", "--temperature", "3"], "LLMConfig.temperature"),
    ],
)
def test_invalid_config_prints_one_line_naming_the_field(
    capsys: Capture, flags: list[str], field: str
) -> None:
    argv = flags if "chat" in flags else [*flags, "chat", "Hi"]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (1, "")
    assert err.startswith(f"llmpipe: error: {field} must be ")
    assert err.count("\n") == 1


def test_unknown_option_is_a_usage_error_exit_2(capsys: Capture) -> None:
    code, _, err = run(capsys, "chat", "Hi", "--no-such-option")
    assert code == 2
    assert "usage: llmpipe" in err


def test_help_exits_0(capsys: Capture) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "LLMPIPE_API_KEY" in out


def test_serve_on_a_busy_port_prints_one_line_naming_the_port_and_the_fix(
    capsys: Capture, llm_server: LLMServer
) -> None:
    code, out, err = run(capsys, "serve", "--port", str(llm_server.port))
    assert (code, out) == (1, "")
    assert err == (
        f"llmpipe: error: port {llm_server.port} is already in use on 127.0.0.1: pick another "
        "with --port N (--port 0 picks a free one), or stop the process using it\n"
    )


# --- real processes -----------------------------------------------------------


def test_python_m_llmpipe_runs_a_chat(llm_server: LLMServer) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llmpipe", "chat", "Hello there"],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(LLMPIPE_BASE_URL=llm_server.base_url),
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "Echo: Hello there\n", "")


def test_python_m_llmpipe_error_exits_1_without_traceback() -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "llmpipe", "--max-retries", "0", "models"],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(LLMPIPE_BASE_URL=url),
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("llmpipe: error: GET ")
    assert result.stderr.count("\n") == 1


def test_serve_answers_then_stops_cleanly_on_sigterm(capsys: Capture) -> None:
    with serve_process() as (process, url):
        code, out, _ = run(capsys, "--base-url", url, "chat", "ping")
        process.send_signal(signal.SIGTERM)
        rest, err = process.communicate(timeout=20)
    assert (code, out) == (0, "Echo: ping\n")
    assert process.returncode == 0
    assert (rest, err) == ("", "")


def test_serve_stops_cleanly_on_ctrl_c() -> None:
    with serve_process() as (process, _):
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0
    assert "Traceback" not in err


def test_serve_with_api_key_rejects_clients_without_it(capsys: Capture) -> None:
    with serve_process("--api-key", SERVER_KEY) as (_, url):
        without_key = run(capsys, "--base-url", url, "models")
        with_key = run(capsys, "--base-url", url, "--api-key", SERVER_KEY, "models")
    assert without_key[0] == 1
    assert without_key[2].startswith("llmpipe: error: 401: ")
    assert with_key[:2] == (0, "\n".join(DEFAULT_MODELS) + "\n")


def test_serve_on_a_busy_port_exits_1_with_one_line_and_no_traceback(
    llm_server: LLMServer,
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llmpipe", "serve", "--port", str(llm_server.port)],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(),
        check=False,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"llmpipe: error: port {llm_server.port} is already in use")
    assert result.stderr.count("\n") == 1
