"""Batch calls over loopback: order, per-item failures, the concurrency bound,
checkpoints that survive a crash, the progress bar, and the sync client."""

from __future__ import annotations

import asyncio
import collections
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest

from llmpipe import (
    LLM,
    AsyncLLM,
    BadRequestError,
    ChatCompletionResponse,
    CompletionResponse,
    LLMConfig,
    Message,
    default_middlewares,
)
from llmpipe.batch import (
    BatchError,
    batch_chat_completion,
    batch_chat_completion_sync,
    batch_completion,
    batch_completion_sync,
)
from llmpipe.batch.checkpoint import Checkpoint, fingerprint
from llmpipe.testing import Fault, LLMServer

SECRET = "sk-batch-secret-7d41c9"


def chats(count: int) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": f"item {i}"}] for i in range(count)]


def texts(results) -> list[str]:
    return [result.unwrap().choices[0].message.content for result in results]


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


AGAIN = {"extra_headers": {"X-Run": "again"}}  # marks a re-run's requests; not fingerprinted


def sent_again(server: LLMServer) -> int:
    """Requests of the re-run only: stragglers of a killed run may still arrive."""
    return sum(1 for request in server.requests if request.headers.get("X-Run") == "again")


def wait_for_lines(path: Path, count: int, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not path.exists() or path.read_bytes().count(b"\n") < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not reach {count} lines in {within} s")
        time.sleep(0.01)


class InFlight:
    """A probe middleware: the most calls it has seen in flight at once."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0

    async def __call__(self, request, call_next):
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await call_next(request)
        finally:
            self.now -= 1


# --- results -------------------------------------------------------------------------


async def test_results_are_in_input_order_though_calls_finish_out_of_order(llm_server, client):
    llm_server.add_faults(*(Fault(delay=0.01 * (5 - i)) for i in range(5)))
    results = await batch_chat_completion(client, chats(5), concurrency=5)
    assert texts(results) == [f"Echo: item {i}" for i in range(5)]
    assert [result.index for result in results] == list(range(5))


async def test_a_failing_item_is_recorded_and_the_others_succeed(llm_server, client):
    llm_server.add_faults(Fault(), Fault(), Fault(status=400))
    results = await batch_chat_completion(client, chats(5), concurrency=1)
    assert [result.ok for result in results] == [True, True, False, True, True]
    assert results[2].error == BatchError("BadRequestError", str(results[2].exception), 400)
    assert isinstance(results[2].exception, BadRequestError)
    with pytest.raises(BadRequestError):
        results[2].unwrap()


async def test_an_unusable_item_fails_alone_without_reaching_the_server(llm_server, client):
    items = [*chats(2), "not a list of messages", {"temperature": 0}]
    results = await batch_chat_completion(client, items)
    assert [result.ok for result in results] == [True, True, False, False]
    assert {result.error.type for result in results[2:]} == {"TypeError"}
    assert len(llm_server.requests) == 2


async def test_no_more_calls_are_in_flight_than_the_concurrency(llm_server, config):
    probe = InFlight()
    llm_server.add_faults(*[Fault(delay=0.03)] * 12)
    async with AsyncLLM(config, [probe, *default_middlewares(config)]) as llm:
        results = await batch_chat_completion(llm, chats(12), concurrency=3)
    assert all(result.ok for result in results)
    assert probe.most == 3


async def test_dict_items_override_the_common_keyword_arguments(llm_server, client):
    items = [chats(1)[0], {"messages": chats(1)[0], "temperature": 0, "model": "gpt-4o-mini"}]
    await batch_chat_completion(client, items, concurrency=1, temperature=0.5, max_tokens=9)
    first, second = (request.json for request in llm_server.requests)
    assert (first["temperature"], first["model"], first["max_tokens"]) == (0.5, "gpt-4", 9)
    assert (second["temperature"], second["model"], second["max_tokens"]) == (0, "gpt-4o-mini", 9)


async def test_batch_completion_returns_text_completions_in_order(client):
    results = await batch_completion(client, ["one", {"prompt": "two", "max_tokens": 1}])
    assert all(isinstance(result.response, CompletionResponse) for result in results)
    assert [result.unwrap().choices[0].text for result in results] == [" Echo: one", " Echo:"]


async def test_streaming_is_refused_before_any_call(llm_server, client):
    with pytest.raises(ValueError, match="cannot stream"):
        await batch_chat_completion(client, chats(2), stream=True)
    assert llm_server.requests == []


# --- checkpoint ------------------------------------------------------------------------


async def test_rerun_with_a_checkpoint_returns_stored_results_without_calling(
    llm_server, client, tmp_path
):
    path = tmp_path / "results.jsonl"
    first = await batch_chat_completion(client, chats(4), checkpoint=path)
    llm_server.reset()
    again = await batch_chat_completion(client, chats(4), checkpoint=path)
    assert llm_server.requests == []
    assert [r.response for r in again] == [r.response for r in first]
    assert all(isinstance(r.response, ChatCompletionResponse) for r in again)
    assert all(r.from_checkpoint for r in again)


async def test_each_finished_item_is_one_line_with_index_fingerprint_and_result(client, tmp_path):
    path = tmp_path / "results.jsonl"
    await batch_chat_completion(client, chats(3), checkpoint=path)
    records = sorted(lines(path), key=lambda record: record["index"])
    assert [record["index"] for record in records] == [0, 1, 2]
    assert all(len(record["fingerprint"]) == 64 for record in records)
    assert records[1]["response"]["choices"][0]["message"]["content"] == "Echo: item 1"


async def test_checkpoint_error_record_names_the_error_but_never_the_api_key(llm_server, tmp_path):
    path = tmp_path / "results.jsonl"
    echoed = {"error": {"message": f"key {SECRET} is not allowed", "type": "invalid_request"}}
    llm_server.add_faults(Fault(status=400, body=echoed))
    config = LLMConfig(base_url=llm_server.base_url, api_key=SECRET)
    async with AsyncLLM(config) as llm:
        await batch_chat_completion(llm, chats(1), checkpoint=path)
    (record,) = lines(path)
    assert (record["error"]["type"], record["error"]["status_code"]) == ("BadRequestError", 400)
    assert SECRET not in path.read_text()


async def test_failed_items_are_redone_on_the_next_run(llm_server, client, tmp_path):
    path = tmp_path / "results.jsonl"
    llm_server.add_faults(Fault(), Fault(status=400))
    await batch_chat_completion(client, chats(3), concurrency=1, checkpoint=path)
    llm_server.reset()
    results = await batch_chat_completion(client, chats(3), checkpoint=path)
    assert [request.json["messages"][0]["content"] for request in llm_server.requests] == ["item 1"]
    assert all(result.ok for result in results)


async def test_failed_items_are_kept_when_retry_failed_is_false(llm_server, client, tmp_path):
    path = tmp_path / "results.jsonl"
    llm_server.add_faults(Fault(status=400))
    await batch_chat_completion(client, chats(2), concurrency=1, checkpoint=path)
    llm_server.reset()
    results = await batch_chat_completion(client, chats(2), checkpoint=path, retry_failed=False)
    assert llm_server.requests == []
    assert results[0].error.type == "BadRequestError"
    assert results[0].exception is None


async def test_a_changed_item_is_redone_and_the_unchanged_ones_are_not(
    llm_server, client, tmp_path
):
    path = tmp_path / "results.jsonl"
    await batch_chat_completion(client, chats(3), checkpoint=path)
    llm_server.reset()
    changed = chats(3)
    changed[1] = [{"role": "user", "content": "item 1, reworded"}]
    results = await batch_chat_completion(client, changed, checkpoint=path)
    assert [r.json["messages"][0]["content"] for r in llm_server.requests] == ["item 1, reworded"]
    assert texts(results)[1] == "Echo: item 1, reworded"


async def test_a_truncated_last_line_is_cut_and_its_item_redone(llm_server, client, tmp_path):
    path = tmp_path / "results.jsonl"
    await batch_chat_completion(client, chats(3), concurrency=1, checkpoint=path)
    path.write_bytes(path.read_bytes()[:-25])  # a crash in the middle of the last write
    llm_server.reset()
    results = await batch_chat_completion(client, chats(3), checkpoint=path)
    assert [r.json["messages"][0]["content"] for r in llm_server.requests] == ["item 2"]
    assert texts(results) == ["Echo: item 0", "Echo: item 1", "Echo: item 2"]
    assert sorted(record["index"] for record in lines(path)) == [0, 1, 2]


async def test_cancelled_batch_keeps_what_finished_and_a_rerun_does_the_rest(
    llm_server, client, tmp_path
):
    path = tmp_path / "results.jsonl"
    llm_server.add_faults(*[Fault(delay=0.05)] * 10)
    task = asyncio.create_task(batch_chat_completion(client, chats(10), checkpoint=path))
    await asyncio.to_thread(wait_for_lines, path, 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    done = len(lines(path))
    llm_server.reset()
    results = await batch_chat_completion(client, chats(10), checkpoint=path, **AGAIN)
    assert all(result.ok for result in results)
    assert sent_again(llm_server) == 10 - done
    assert sorted(record["index"] for record in lines(path)) == list(range(10))


CHILD = """
import asyncio, sys
from llmpipe import AsyncLLM, LLMConfig
from llmpipe.batch import batch_chat_completion

base_url, path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
items = [[{"role": "user", "content": f"item {i}"}] for i in range(count)]

async def main():
    async with AsyncLLM(LLMConfig(base_url=base_url)) as llm:
        await batch_chat_completion(llm, items, concurrency=2, checkpoint=path)

asyncio.run(main())
"""


def test_batch_killed_mid_run_then_rerun_holds_every_item_exactly_once(
    llm_server, config, tmp_path
):
    path, count = tmp_path / "results.jsonl", 30
    llm_server.add_faults(*[Fault(delay=0.05)] * count)
    command = [sys.executable, "-c", CHILD, llm_server.base_url, str(path), str(count)]
    with subprocess.Popen(command) as child:
        try:
            wait_for_lines(path, 6)
        finally:
            os.kill(child.pid, signal.SIGKILL)
    assert child.returncode == -signal.SIGKILL
    done = path.read_bytes().count(b"\n")
    assert done < count
    llm_server.reset()
    with LLM(config) as llm:
        results = batch_chat_completion_sync(llm, chats(count), checkpoint=path, **AGAIN)
    assert texts(results) == [f"Echo: item {i}" for i in range(count)]
    assert sent_again(llm_server) == count - done
    indexes = collections.Counter(record["index"] for record in lines(path))
    assert indexes == dict.fromkeys(range(count), 1)


class SyncLog:
    """A checkpoint's ``sync``: for each call, which file the descriptor is (its
    inode) and what any reader of the path could see then; then a real fsync.

    An fsync makes durable what was written to the descriptor before it: a line
    is durable only if the sync comes after its bytes reached the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.calls: list[tuple[int, bytes]] = []

    def __call__(self, fd: int) -> None:
        self.calls.append((os.fstat(fd).st_ino, self.path.read_bytes()))
        os.fsync(fd)


RECORD = {"fingerprint": "f", "response": {"id": "r"}}


def test_each_appended_line_is_synced_once_its_bytes_are_in_the_file(tmp_path):
    path = tmp_path / "results.jsonl"
    log = SyncLog(path)
    checkpoint = Checkpoint.open(path, sync=log)
    try:
        checkpoint.append({"index": 0, **RECORD})
        checkpoint.append({"index": 1, **RECORD})
    finally:
        checkpoint.close()
    first, second = path.read_bytes().splitlines(keepends=True)
    file = path.stat().st_ino
    assert log.calls == [
        (tmp_path.stat().st_ino, b""),  # the new file's directory entry
        (file, first),
        (file, first + second),
    ]


def test_cutting_a_partial_last_line_is_synced_before_appending(tmp_path):
    path = tmp_path / "results.jsonl"
    whole = json.dumps({"v": 1, "index": 0, **RECORD}).encode() + b"\n"
    path.write_bytes(whole + b'{"v": 1, "ind')  # a crash in the middle of a write
    log = SyncLog(path)
    Checkpoint.open(path, sync=log).close()
    assert log.calls == [(path.stat().st_ino, whole)]


def test_the_last_line_of_an_index_wins(tmp_path):
    path = tmp_path / "results.jsonl"
    failed = {"v": 1, "index": 0, "fingerprint": "f", "error": {"type": "BadRequestError"}}
    done = {"v": 1, "index": 0, **RECORD}
    path.write_text(json.dumps(failed) + "\n" + json.dumps(done) + "\n")
    checkpoint = Checkpoint.open(path)
    checkpoint.close()
    assert checkpoint.records == {0: done}


def test_checkpoints_sync_with_os_fsync_unless_told_otherwise():
    for made in (Checkpoint.open, Checkpoint):
        assert inspect.signature(made).parameters["sync"].default is os.fsync


async def test_a_checkpoint_in_use_by_another_batch_is_refused(llm_server, client, tmp_path):
    path = tmp_path / "results.jsonl"
    busy = Checkpoint.open(path)
    try:
        with pytest.raises(RuntimeError, match="in use by another running batch"):
            await batch_chat_completion(client, chats(2), checkpoint=path)
    finally:
        busy.close()
    assert llm_server.requests == []


def test_fingerprint_ignores_key_order_number_format_and_message_form():
    as_dicts = {"messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    as_objects = {"temperature": 0.0, "messages": [Message(role="user", content="hi")]}
    assert fingerprint("chat", as_dicts, "gpt-4") == fingerprint("chat", as_objects, "gpt-4")


def test_fingerprint_ignores_options_that_do_not_change_the_answer():
    call = {"messages": [{"role": "user", "content": "hi"}]}
    with_options = {**call, "timeout": 5, "tag": "nightly", "max_retries": 9}
    assert fingerprint("chat", call, "gpt-4") == fingerprint("chat", with_options, "gpt-4")


def test_fingerprint_changes_with_the_model_and_the_kind():
    call = {"messages": [{"role": "user", "content": "hi"}]}
    prints = {fingerprint("chat", call, "gpt-4"), fingerprint("chat", call, "gpt-4o-mini")}
    prints.add(fingerprint("completion", call, "gpt-4"))
    assert len(prints) == 3


# --- progress and the sync client -----------------------------------------------------


async def test_progress_is_quiet_when_stderr_is_not_a_terminal(client, capfd):
    await batch_chat_completion(client, chats(3))
    assert capfd.readouterr().err == ""


async def test_progress_true_draws_a_bar_on_stderr(client, capsys):
    await batch_chat_completion(client, chats(3), progress=True)
    assert "3/3" in capsys.readouterr().err


def test_sync_llm_batches_in_order(config, llm_server: LLMServer):
    with LLM(config) as llm:
        chat = batch_chat_completion_sync(llm, chats(3), concurrency=2)
        text = batch_completion_sync(llm, ["a", "b"])
    assert texts(chat) == ["Echo: item 0", "Echo: item 1", "Echo: item 2"]
    assert [result.unwrap().choices[0].text for result in text] == [" Echo: a", " Echo: b"]
    assert len(llm_server.requests) == 5


@attrs.frozen
class Verdict:
    label: str
    score: int


async def test_response_model_results_are_restored_as_that_model(llm_server, client, tmp_path):
    path = tmp_path / "results.jsonl"
    first = await batch_chat_completion(client, chats(2), response_model=Verdict, checkpoint=path)
    llm_server.reset()
    again = await batch_chat_completion(client, chats(2), response_model=Verdict, checkpoint=path)
    assert llm_server.requests == []
    assert all(isinstance(result.unwrap(), Verdict) for result in again)
    assert [r.response for r in again] == [r.response for r in first]
