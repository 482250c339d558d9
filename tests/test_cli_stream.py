"""``--stream``: the reply printed as it arrives, flushed token by token."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time

import pytest

from llmpipe.cli import main
from llmpipe.testing import Fault, LLMServer
from tests.cli_support import COMMAND, child_env

Capture = pytest.CaptureFixture[str]
STALL = 30.0  # seconds: far longer than any delay a loaded machine adds


def test_chat_stream_prints_the_whole_reply_and_a_newline(
    capsys: Capture, llm_server: LLMServer
) -> None:
    code = main(["--base-url", llm_server.base_url, "chat", "--stream", "one two three"])
    out, err = capsys.readouterr()
    assert (code, out, err) == (0, "Echo: one two three\n", "")
    assert llm_server.requests[0].json["stream"] is True


def test_complete_stream_prints_the_whole_text(capsys: Capture, llm_server: LLMServer) -> None:
    code = main(["--base-url", llm_server.base_url, "complete", "--stream", "Once upon"])
    assert (code, capsys.readouterr().out) == (0, " Echo: Once upon\n")


def test_no_stream_after_stream_turns_it_off(capsys: Capture, llm_server: LLMServer) -> None:
    main(["--base-url", llm_server.base_url, "chat", "--stream", "--no-stream", "Hi"])
    assert "stream" not in llm_server.requests[0].json


def test_stream_json_prints_one_chunk_per_line_the_last_with_usage(
    capsys: Capture, llm_server: LLMServer
) -> None:
    code = main(["--base-url", llm_server.base_url, "chat", "--stream", "--json", "a b"])
    chunks = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Echo: a b"
    assert chunks[-1]["usage"]["total_tokens"] > 0


def test_stream_prints_the_first_tokens_before_the_reply_ends(llm_server: LLMServer) -> None:
    """The server stalls for a long time after three events: what came before
    must reach stdout (a pipe) during the stall, which only a flush per token
    achieves. The child is stopped then, not waited for."""
    llm_server.add_faults(Fault(stall_after_events=3, delay=STALL))
    command = [*COMMAND, "chat", "--stream", "alpha beta gamma delta"]
    env = child_env(LLMPIPE_BASE_URL=llm_server.base_url)
    received = b""
    with subprocess.Popen(command, stdout=subprocess.PIPE, env=env) as child:
        assert child.stdout is not None
        deadline = time.monotonic() + STALL - 5
        while b"alpha" not in received and time.monotonic() < deadline:
            ready, _, _ = select.select([child.stdout], [], [], deadline - time.monotonic())
            if ready:
                received += os.read(child.stdout.fileno(), 4096)
        child.kill()
    assert received.decode().startswith("Echo: alpha")
    assert "delta" not in received.decode()
