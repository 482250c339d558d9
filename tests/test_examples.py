"""The examples run as real processes against the bundled server, and run_all.py
(the `make demo` driver) runs them all and cleans up after itself."""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from llmpipe.testing import LLMServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RUN_ALL = EXAMPLES / "run_all.py"
ENV_VARIABLES = ("LLMPIPE_BASE_URL", "LLMPIPE_MODEL", "LLMPIPE_API_KEY", "OPENAI_API_KEY")
SERVER_LINE = re.compile(r"^Test server listening on http://127\.0\.0\.1:(\d+)$", re.MULTILINE)

# Lines each example must print: evidence that it did what it says.
KEY_LINES = {
    "async_usage.py": [
        "A: Echo: What is an onion architecture?",
        "A: Echo: Why retry with backoff?",
        "A: Echo: What is a pool?",
        "Closed after the block: True",
    ],
    "basic_usage.py": [
        "Chat: Echo: Hello!",
        "Completion: Echo: Once upon a time",
        "Model: llama-3-8b-instruct",
        "Requests so far: 3",
        "After reset_session: 0 requests, last=None",
        "Closed after the block: True",
    ],
    "custom_middleware.py": [
        "served from cache: same reply id",
        "API calls counted: 2 of 3; cache hits: 1",
    ],
    "error_handling.py": [
        "-> NotFoundError status_code=404 request_id=req-",
        "-> LLMConnectionError",
        "ValueError: LLMConfig.temperature must be",
    ],
    "production_stack.py": [
        "Stack: LoggingMiddleware -> CountingMiddleware -> CacheMiddleware -> UsageMiddleware",
        "Second call served from cache: True",
        "Bulk calls: 3 answered, 3 refused by the budget",
        "Stats: requests=8 cache_hits=1",
    ],
    "batch_checkpoint.py": [
        "First run: 8 answered, 1 failed, in input order",
        "Item 3: Echo: Summarise chapter 3",
        "Item 8 failed: NotFoundError",
        "Second run: 9 of 9 from the checkpoint, 0 requests sent",
    ],
    "streaming.py": [
        "Async stream: Echo:| Tell| me| a| story",
        "Folded reply: 'Echo: Tell me a story about a streaming onion'",
        "Finish reason: stop, tokens:",
        "Left early after 3 chunks; calls in flight: 0",
        "Streamed completion: ' Echo: Once upon a time'",
    ],
    "observability.py": [
        "span 'chat gpt-4' id=",
        "    http.request.resend_count=1",
        "    gen_ai.usage.output_tokens=",
        "    llmpipe.stream.end=complete",
        "span 'embeddings gpt-4' id=",
        "log WARNING llmpipe: retrying chat/completions in 0.05 s (retry 1)",
        "The server received 4 requests, each with its attempt's traceparent:",
        "metric gen_ai.client.operation.duration [s] chat count=2",
        "metric gen_ai.client.token.usage [{token}] embeddings input count=1",
        "metric gen_ai.client.operation.time_to_first_chunk [s] chat count=1",
    ],
    "routing.py": [
        "Deployments: replica-0, replica-1 -> chat; long-context -> chat-long",
        "All up: 30 calls, 0 failed, 0 fallbacks",
        "replica-1 down: 30 calls, 0 failed,",
        "replica-1's breaker: open",
        "While its breaker is open: 30 calls, 0 failed, 0 fallbacks",
        "After recovery: replica-1 closed",
        "Too long for chat: answered by gpt-4 on long-context",
        "Stats: requests=121 failures=0",
    ],
    "retries.py": [
        "Reply after retries: Echo: Are you there?",
        "Stats: requests=1 attempts=3 retries=2",
        "The server received 3 requests",
        "Gave up after 1 retry: InternalServerError",
    ],
}


def example_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARIABLES}
    return {**env, **extra}


def run(*command: str | Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *map(str, command)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=example_env(**env),
        check=False,
    )


def is_listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def test_every_example_has_key_lines_to_check() -> None:
    examples = {path.name for path in EXAMPLES.glob("*.py")} - {RUN_ALL.name}
    assert examples == set(KEY_LINES)


@pytest.mark.parametrize("name", sorted(KEY_LINES))
def test_example_runs_cleanly_against_the_bundled_server(name: str, llm_server: LLMServer) -> None:
    # -W error: a ResourceWarning (an unclosed client) would show on stderr.
    result = run("-W", "error", EXAMPLES / name, LLMPIPE_BASE_URL=llm_server.base_url)
    assert (result.returncode, result.stderr) == (0, "")
    for line in KEY_LINES[name]:
        assert line in result.stdout


def test_run_all_runs_every_example_and_exits_0() -> None:
    result = run(RUN_ALL)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in KEY_LINES:
        assert f"===== {name} =====" in result.stdout
        assert f"----- {name}: ok in" in result.stdout
    assert result.stdout.endswith(f"All {len(KEY_LINES)} examples passed.\n")


def test_run_all_exits_1_when_an_example_fails_and_stops_the_server(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise SystemExit(3)\n")
    result = run(RUN_ALL, broken, EXAMPLES / "basic_usage.py")
    assert result.returncode == 1
    assert "----- broken.py: FAILED (exit 3)" in result.stdout
    assert "----- basic_usage.py: ok in" in result.stdout  # a failure does not stop the run
    assert "1 of 2 examples failed: broken.py" in result.stdout
    match = SERVER_LINE.search(result.stdout)
    assert match
    assert not is_listening(int(match.group(1)))


def test_run_all_passes_the_server_url_and_not_the_users_key(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os\n"
        "print('url', os.environ['LLMPIPE_BASE_URL'])\n"
        "print('key', os.environ.get('OPENAI_API_KEY'))\n"
    )
    result = run(RUN_ALL, probe, OPENAI_API_KEY="sk-users-real-key")
    port = SERVER_LINE.search(result.stdout)
    assert port
    assert f"url http://127.0.0.1:{port.group(1)}\n" in result.stdout
    assert "key None\n" in result.stdout


def test_run_all_leaves_no_process_behind_when_terminated(tmp_path: Path) -> None:
    slow = tmp_path / "slow.py"
    slow.write_text("import os, time\nprint('pid', os.getpid(), flush=True)\ntime.sleep(60)\n")
    with subprocess.Popen(
        [sys.executable, str(RUN_ALL), str(slow)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=example_env(),
    ) as process:
        try:
            seen = read_until(process, "pid ")
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    example_pid = int(seen.rsplit("pid ", 1)[1].split()[0])
    server_port = SERVER_LINE.search(seen)
    assert process.returncode != 0
    assert server_port
    assert not is_listening(int(server_port.group(1)))
    with pytest.raises(ProcessLookupError):
        os.kill(example_pid, 0)


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 30) -> str:
    """The child's stdout up to the first line containing ``marker``.

    Reads the pipe's descriptor directly: a text wrapper's read-ahead would hide
    buffered lines from the selector.
    """
    assert process.stdout is not None
    fd = process.stdout.fileno()
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while not re.search(re.escape(marker.encode()) + rb".*\n", seen):
            if not selector.select(timeout):
                pytest.fail(f"no {marker!r} within {timeout} s; got {seen!r}")
            chunk = os.read(fd, 65536)
            if not chunk:
                pytest.fail(f"the child exited before printing {marker!r}; got {seen!r}")
            seen += chunk
    return seen.decode()
